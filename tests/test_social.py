"""The social app's store, with no sockets."""

import pytest

from duplexlab.apps.notifications import Notification, NotificationStore, valid_user


def test_ids_grow_and_after_filters():
    """Ids count up from 1; for_user(after=) returns only newer ones of that user."""
    clock = iter([1.0, 2.0, 3.0]).__next__
    store = NotificationStore(clock=clock)
    a = store.add("asha", "one")
    store.add("ravi", "two")
    c = store.add("asha", "three", kind="friend-accepted")
    assert [n.id for n in store.for_user("asha")] == [1, 3]
    assert store.for_user("asha", after=a.id) == [c]
    assert c.t == 3.0 and c.kind == "friend-accepted"


def test_listeners_hear_every_new_notification_until_unsubscribed():
    """subscribe() hears each add; its unsubscribe stops that."""
    store = NotificationStore()
    heard: list[Notification] = []
    stop = store.subscribe(heard.append)
    store.add("asha", "a")
    stop()
    stop()
    store.add("asha", "b")
    assert [n.text for n in heard] == ["a"]


def test_bad_users_and_texts_are_refused_with_reasons():
    """Invalid user names and empty texts raise ValueError that says what is allowed."""
    with pytest.raises(ValueError, match="a-z"):
        valid_user("Asha Rao")
    with pytest.raises(ValueError, match="non-empty"):
        NotificationStore().add("asha", "")
    with pytest.raises(KeyError):
        NotificationStore().get(1)
