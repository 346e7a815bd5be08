"""The shared log's one schema (cluster/entry.py): what passes, what is refused and why, without a network."""

from __future__ import annotations

import json

import pytest

from duplexlab.cluster import entry


def test_a_notify_and_a_publish_pass_with_their_fields_only():
    """The two kinds of entry pass, keep only their own fields, and come back the same from their JSON."""
    note = {"op": "notify", "user": "meera", "text": "hi"}
    assert entry.decode(entry.encode(note)) == {**note, "kind": "message"}
    published = {"op": "publish", "topic": "scores", "data": [1, {"a": 2}]}
    assert entry.decode(entry.encode(published)) == published


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"[1]", "not list"),
        (b'"x"', "not str"),
        (b"null", "not null"),
        (b"{}", "op"),
        (b"{nope", "not JSON"),
        (json.dumps({"op": "notify", "user": "Meera!", "text": "x"}).encode(), "user names"),
        (json.dumps({"op": "notify", "user": "meera", "text": ""}).encode(), "text"),
        (json.dumps({"op": "notify", "user": "meera", "text": "x", "id": 7}).encode(), "not id"),
        (json.dumps({"op": "publish", "topic": "a b", "data": []}).encode(), "topic"),
        (json.dumps({"op": "publish", "topic": "t", "data": "x"}).encode(), "a list"),
        (json.dumps({"op": "notify", "user": "meera", "text": "x" * 1_000_000}).encode(), "at most"),
    ],
)
def test_anything_else_is_refused_with_a_reason(raw: bytes, why: str):
    """A wrong JSON type, an unknown op, a wrong or extra field, or an oversize entry raises BadEntry, saying why."""
    with pytest.raises(entry.BadEntry, match=why):
        entry.decode(raw)


def test_an_entry_too_big_to_append_says_what_to_do():
    """encode refuses an entry over MAX_ENTRY bytes, and says to send less at a time."""
    with pytest.raises(entry.BadEntry, match="send less at a time"):
        entry.encode({"op": "publish", "topic": "t", "data": ["x" * 1000] * 300})
