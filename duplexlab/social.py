"""The small social app of the course: users, and the notifications they get.

The store is plain Python (no sockets): :class:`NotificationStore` keeps every
notification with the moment the server created it, on the lab clock
(:func:`time.perf_counter`, shared by every thread of the process). The HTTP
routes that expose it live in :func:`add_routes`; later lessons push the same
notifications over WebSockets through :meth:`NotificationStore.subscribe`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aiohttp import web

from .webapp import json_error, read_json

__all__ = ["Notification", "NotificationStore", "add_routes", "valid_user"]

USER_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")


def valid_user(user: str) -> str:
    """Return ``user`` if it is a valid user name, else raise ``ValueError``."""
    if not isinstance(user, str) or not USER_PATTERN.fullmatch(user):
        raise ValueError(
            f"user names are 1-32 characters of a-z, 0-9, '_' or '-', not {user!r}"
        )
    return user


@dataclass(frozen=True)
class Notification:
    """One notification, as the server created it.

    ``t`` is the moment of creation on the lab clock (``time.perf_counter()``).
    """

    id: int
    user: str
    kind: str
    text: str
    t: float

    def to_json(self) -> dict:
        return asdict(self)


Listener = Callable[[Notification], None]


class NotificationStore:
    """All notifications of all users, in the order the server created them.

    Not thread-safe on purpose: the lab only touches it on its own loop thread.

    Example::

        store = NotificationStore()
        n = store.add("asha", "Ravi accepted your friend request", kind="friend-accepted")
        store.for_user("asha")          # [n]
        store.for_user("asha", after=n.id)  # []
    """

    def __init__(self, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._all: list[Notification] = []
        self._by_id: dict[int, Notification] = {}
        self._listeners: list[Listener] = []

    def add(self, user: str, text: str, *, kind: str = "message") -> Notification:
        """Create a notification for ``user`` now and tell every listener."""
        valid_user(user)
        if not isinstance(text, str) or not text:
            raise ValueError("a notification needs a non-empty text")
        note = Notification(len(self._all) + 1, user, str(kind), text, self._clock())
        self._all.append(note)
        self._by_id[note.id] = note
        for listener in list(self._listeners):
            listener(note)
        return note

    def get(self, note_id: int) -> Notification:
        """The notification with this id; ``KeyError`` if there is none."""
        return self._by_id[note_id]

    def for_user(self, user: str, *, after: int = 0) -> list[Notification]:
        """The notifications of ``user`` with an id greater than ``after``."""
        return [n for n in self._all if n.user == user and n.id > after]

    @property
    def all(self) -> list[Notification]:
        """Every notification, oldest first (the server's own log)."""
        return list(self._all)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(note)`` on every new notification; returns the unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def clear(self) -> None:
        """Forget every notification (listeners stay)."""
        self._all.clear()
        self._by_id.clear()


STORE_KEY = web.AppKey("notifications", NotificationStore)


def add_routes(app: web.Application, store: NotificationStore) -> None:
    """Expose ``store`` on ``app``:

    - ``GET  /api/users/{user}/notifications?after=ID``  the notification panel
    - ``POST /api/users/{user}/notifications``  ``{"text": ..., "kind": ...}``
    - ``GET  /api/notifications/{id}``  one notification
    """
    app[STORE_KEY] = store
    app.router.add_get("/api/users/{user}/notifications", list_notifications)
    app.router.add_post("/api/users/{user}/notifications", create_notification)
    app.router.add_get("/api/notifications/{id}", get_notification)


def _user(request: web.Request) -> str:
    user = request.match_info["user"]
    try:
        return valid_user(user)
    except ValueError as exc:
        raise json_error(400, str(exc), "use a name such as 'asha' or 'ravi_2'") from None


async def list_notifications(request: web.Request) -> web.Response:
    user = _user(request)
    raw_after = request.query.get("after", "0")
    try:
        after = int(raw_after)
    except ValueError:
        raise json_error(
            400, f"'after' must be a whole number, not {raw_after!r}", "send ?after=0 for all"
        ) from None
    notes = request.app[STORE_KEY].for_user(user, after=after)
    last = notes[-1].id if notes else after
    return web.json_response(
        {"user": user, "notifications": [n.to_json() for n in notes], "last_id": last}
    )


async def create_notification(request: web.Request) -> web.Response:
    user = _user(request)
    body = await read_json(request, example='{"text": "Ravi accepted your friend request"}')
    text = body.get("text")
    kind = body.get("kind", "message")
    if not isinstance(text, str) or not text:
        raise json_error(
            400,
            "the JSON object needs a non-empty string field 'text'",
            'send {"text": "hello", "kind": "message"}',
        )
    if not isinstance(kind, str):
        raise json_error(400, "'kind' must be a string", 'leave it out or send "kind": "message"')
    note = request.app[STORE_KEY].add(user, text, kind=kind)
    return web.json_response(note.to_json(), status=201)


async def get_notification(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    store = request.app[STORE_KEY]
    try:
        return web.json_response(store.get(int(raw)).to_json())
    except (ValueError, KeyError):
        known = f"ids 1 to {len(store.all)} exist" if store.all else "no notification exists yet"
        raise json_error(
            404,
            f"no notification with id {raw!r}",
            f"{known}; list a user's with GET /api/users/<user>/notifications",
        ) from None
