"""The small social app of the course: users, and the notifications they get.

The store is plain Python (no sockets): :class:`NotificationStore` keeps every
notification with the moment the server created it, on the lab clock
(:func:`time.perf_counter`, shared by every thread of the process). The HTTP
routes that expose it live in :func:`add_routes`; later lessons push the same
notifications over WebSockets through :meth:`NotificationStore.subscribe`.

A notification made with ``private=True`` (a direct message, an OTP code) is
never served by these routes, nor pushed on ``/notifications/<user>``: only the
token-checked WebSocket channel ``/private/<user>`` carries it. The store keeps
the last ``MAX_NOTIFICATIONS``.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from aiohttp import web

from ..runtime.http import json_error, read_json
from ..runtime.loop import LoopThread

__all__ = ["STORE_KEY", "Notification", "NotificationStore", "add_routes", "int_query", "user_of", "valid_user"]

T = TypeVar("T")

MAX_NOTIFICATIONS = 10_000
MAX_TEXT = 4_000

USER_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")


def valid_user(user: str) -> str:
    """Return ``user`` if it is a valid user name, else raise ``ValueError``."""
    if not isinstance(user, str) or not USER_PATTERN.fullmatch(user):
        raise ValueError(f"user names are 1-32 characters of a-z, 0-9, '_' or '-', not {user!r}")
    return user


@dataclass(frozen=True)
class Notification:
    """One notification, as the server created it.

    ``t`` is the moment of creation on the lab clock (``time.perf_counter()``);
    a ``private`` one travels only on the token-checked ``/private/<user>`` channel.
    """

    id: int
    user: str
    kind: str
    text: str
    t: float
    private: bool = False

    def to_json(self) -> dict:
        return asdict(self)


Listener = Callable[[Notification], None]


class NotificationStore:
    """All notifications of all users, in the order the server created them.

    Its listeners (waiting long polls, event streams, WebSockets) live on the
    loop it is bound to (``bind(loop)``; the lab binds it to its own). Called
    from any other thread (a cell, a widget callback), :meth:`add` and
    :meth:`clear` hand their work to that loop and wait for it, so a waiting
    client hears of a notification at once. Unbound, it is a plain object.

    Example::

        store = NotificationStore()
        n = store.add("asha", "Ravi accepted your friend request", kind="friend-accepted")
        store.for_user("asha")          # [n]
        store.for_user("asha", after=n.id)  # []
    """

    def __init__(self, *, clock: Callable[[], float] = time.perf_counter, keep: int = MAX_NOTIFICATIONS) -> None:
        self._clock = clock
        self._all: collections.deque[Notification] = collections.deque(maxlen=keep)
        self._by_id: dict[int, Notification] = {}
        self._listeners: list[Listener] = []
        self._next_id = 1
        self._loop: LoopThread | None = None

    def bind(self, loop: LoopThread | asyncio.AbstractEventLoop | None) -> None:
        """Make ``loop`` the one its listeners live on (None: unbound).

        A plain asyncio loop must be the one running on this thread (a server process's own).
        """
        if isinstance(loop, asyncio.AbstractEventLoop):
            here = LoopThread.running_here(name="duplexlab-notifications")
            if here.loop is not loop:
                raise ValueError("bind a LoopThread, or the asyncio loop running on this thread")
            loop = here
        self._loop = loop

    def _on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the bound loop (:meth:`LoopThread.call`), or here when unbound or stopped."""
        loop = self._loop
        if loop is None or not loop.running:
            return fn(*args)
        return loop.call(fn, *args, timeout=5.0)

    def add(self, user: str, text: str, *, kind: str = "message", private: bool = False) -> Notification:
        """Create a notification for ``user`` now and tell every listener. From any thread."""
        return self._on_loop(self._add, user, text, kind, private)

    def _add(self, user: str, text: str, kind: str, private: bool) -> Notification:
        valid_user(user)
        if not isinstance(text, str) or not text:
            raise ValueError("a notification needs a non-empty text")
        if len(text) > MAX_TEXT:
            raise ValueError(f"a notification's text is at most {MAX_TEXT} characters, not {len(text)}")
        note = Notification(self._next_id, user, str(kind), text, self._clock(), bool(private))
        self._next_id += 1
        if len(self._all) == self._all.maxlen:
            self._by_id.pop(self._all[0].id, None)  # the oldest one is forgotten
        self._all.append(note)
        self._by_id[note.id] = note
        for listener in list(self._listeners):
            listener(note)
        return note

    def get(self, note_id: int, *, private: bool = False) -> Notification:
        """The notification with this id; ``KeyError`` if there is none (or it is private)."""
        note = self._by_id[note_id]
        if note.private and not private:
            raise KeyError(note_id)
        return note

    def for_user(self, user: str, *, after: int = 0, private: bool = False) -> list[Notification]:
        """The notifications of ``user`` with an id greater than ``after``.

        Private ones only with ``private=True`` (the token-checked channel).
        """
        return [n for n in self._all if n.user == user and n.id > after and (private or not n.private)]

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
        """Forget every notification (listeners stay; ids go on counting). From any thread."""
        self._on_loop(self._clear)

    def _clear(self) -> None:
        self._all.clear()
        self._by_id.clear()


STORE_KEY = web.AppKey("notifications", NotificationStore)


def add_routes(app: web.Application, store: NotificationStore) -> None:
    """Expose ``store`` on ``app`` (long polling and SSE add theirs: :mod:`.longpoll`, :mod:`.events`):

    - ``GET  /api/users/{user}/notifications?after=ID``  the notification panel
    - ``POST /api/users/{user}/notifications``  ``{"text": ..., "kind": ...}``
    - ``GET  /api/notifications/{id}``  one notification
    """
    app[STORE_KEY] = store
    app.router.add_get("/api/users/{user}/notifications", list_notifications)
    app.router.add_post("/api/users/{user}/notifications", create_notification)
    app.router.add_get("/api/notifications/{id}", get_notification)


def int_query(request: web.Request, name: str, default: str = "0") -> int:
    raw = request.query.get(name, default)
    try:
        return int(raw)
    except ValueError:
        raise json_error(400, f"'{name}' must be a whole number, not {raw!r}", f"send ?{name}=0 for all") from None


def user_of(request: web.Request) -> str:
    user = request.match_info["user"]
    try:
        return valid_user(user)
    except ValueError as exc:
        raise json_error(400, str(exc), "use a name such as 'asha' or 'ravi_2'") from None


async def list_notifications(request: web.Request) -> web.Response:
    user = user_of(request)
    after = int_query(request, "after")
    notes = request.app[STORE_KEY].for_user(user, after=after)
    last = notes[-1].id if notes else after
    return web.json_response({"user": user, "notifications": [n.to_json() for n in notes], "last_id": last})


async def create_notification(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await read_json(request, example='{"text": "Ravi accepted your friend request"}')
    text = body.get("text")
    kind = body.get("kind", "message")
    if "private" in body:
        raise json_error(
            400,
            "private notifications are made by the server, not over HTTP",
            "leave 'private' out; in the notebook use lab.notify(user, text, private=True)",
        )
    if not isinstance(text, str) or not text:
        raise json_error(
            400,
            "the JSON object needs a non-empty string field 'text'",
            'send {"text": "hello", "kind": "message"}',
        )
    if not isinstance(kind, str) or len(kind) > 64:
        raise json_error(400, "'kind' must be a short string", 'leave it out or send "kind": "message"')
    try:
        note = request.app[STORE_KEY].add(user, text, kind=kind)
    except ValueError as exc:
        raise json_error(400, str(exc), "send a shorter text") from None
    return web.json_response(note.to_json(), status=201)


async def get_notification(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    store = request.app[STORE_KEY]
    try:
        return web.json_response(store.get(int(raw)).to_json())
    except (ValueError, KeyError):
        raise json_error(
            404,
            f"no notification with id {raw!r}",
            "list a user's notifications with GET /api/users/<user>/notifications",
        ) from None
