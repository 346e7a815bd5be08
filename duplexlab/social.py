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
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aiohttp import web

from . import sse
from .webapp import json_error, read_json

__all__ = ["Notification", "NotificationStore", "add_routes", "valid_user"]

LONG_POLL_DEFAULT = 25.0
LONG_POLL_MAX = 60.0
SSE_KEEPALIVE = 15.0
SSE_QUEUE = 1_000  # notifications waiting for one slow event-stream reader
MAX_NOTIFICATIONS = 10_000
MAX_TEXT = 4_000

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

    Not thread-safe on purpose: the lab only touches it on its own loop thread.

    Example::

        store = NotificationStore()
        n = store.add("asha", "Ravi accepted your friend request", kind="friend-accepted")
        store.for_user("asha")          # [n]
        store.for_user("asha", after=n.id)  # []
    """

    def __init__(self, *, clock: Callable[[], float] = time.perf_counter,
                 keep: int = MAX_NOTIFICATIONS) -> None:
        self._clock = clock
        self._all: collections.deque[Notification] = collections.deque(maxlen=keep)
        self._by_id: dict[int, Notification] = {}
        self._listeners: list[Listener] = []
        self._next_id = 1

    def add(self, user: str, text: str, *, kind: str = "message",
            private: bool = False) -> Notification:
        """Create a notification for ``user`` now and tell every listener."""
        valid_user(user)
        if not isinstance(text, str) or not text:
            raise ValueError("a notification needs a non-empty text")
        if len(text) > MAX_TEXT:
            raise ValueError(f"a notification's text is at most {MAX_TEXT} characters, "
                             f"not {len(text)}")
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
        return [n for n in self._all
                if n.user == user and n.id > after and (private or not n.private)]

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
        """Forget every notification (listeners stay; ids go on counting)."""
        self._all.clear()
        self._by_id.clear()


STORE_KEY = web.AppKey("notifications", NotificationStore)


def add_routes(app: web.Application, store: NotificationStore) -> None:
    """Expose ``store`` on ``app``:

    - ``GET  /api/users/{user}/notifications?after=ID``  the notification panel
    - ``POST /api/users/{user}/notifications``  ``{"text": ..., "kind": ...}``
    - ``GET  /api/notifications/{id}``  one notification
    - ``GET  /api/users/{user}/notifications/wait?after=ID&timeout=S``  long polling
    - ``GET  /api/users/{user}/events``  server-sent events (resume with ``Last-Event-ID``)
    """
    app[STORE_KEY] = store
    app.router.add_get("/api/users/{user}/notifications", list_notifications)
    app.router.add_get("/api/users/{user}/notifications/wait", wait_notifications)
    app.router.add_get("/api/users/{user}/events", stream_notifications)
    app.router.add_post("/api/users/{user}/notifications", create_notification)
    app.router.add_get("/api/notifications/{id}", get_notification)


def _int_query(request: web.Request, name: str, default: str = "0") -> int:
    raw = request.query.get(name, default)
    try:
        return int(raw)
    except ValueError:
        raise json_error(
            400, f"'{name}' must be a whole number, not {raw!r}", f"send ?{name}=0 for all"
        ) from None


def _user(request: web.Request) -> str:
    user = request.match_info["user"]
    try:
        return valid_user(user)
    except ValueError as exc:
        raise json_error(400, str(exc), "use a name such as 'asha' or 'ravi_2'") from None


async def list_notifications(request: web.Request) -> web.Response:
    user = _user(request)
    after = _int_query(request, "after")
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
    if "private" in body:
        raise json_error(400, "private notifications are made by the server, not over HTTP",
                         "leave 'private' out; in the notebook use lab.notify(user, text, "
                         "private=True)")
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


async def wait_notifications(request: web.Request) -> web.Response:
    """Long polling: answer at once if there is news, else hold the request until there is.

    After ``timeout`` seconds with no news, answer with an empty list and
    ``"timed_out": true``; the client then simply asks again.
    """
    user = _user(request)
    after = _int_query(request, "after")
    raw = request.query.get("timeout", str(LONG_POLL_DEFAULT))
    try:
        timeout = float(raw)
        if not 0 <= timeout <= LONG_POLL_MAX:
            raise ValueError
    except ValueError:
        raise json_error(400, f"'timeout' must be 0 to {LONG_POLL_MAX:g} seconds, not {raw!r}",
                         "send e.g. ?timeout=25") from None
    store = request.app[STORE_KEY]
    notes = store.for_user(user, after=after)
    if not notes:
        news = asyncio.get_running_loop().create_future()

        def listener(note: Notification) -> None:
            if note.user == user and not note.private and not news.done():
                news.set_result(note)

        unsubscribe = store.subscribe(listener)
        try:
            await asyncio.wait_for(news, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            unsubscribe()
        notes = store.for_user(user, after=after)
    last = notes[-1].id if notes else after
    return web.json_response({"user": user, "notifications": [n.to_json() for n in notes],
                              "last_id": last, "timed_out": not notes})


async def stream_notifications(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one response that stays open; each notification is one event.

    A client that reconnects with ``Last-Event-ID: N`` first gets every
    notification after N that it missed.
    """
    user = _user(request)
    raw_last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id") or "0"
    try:
        last = int(raw_last)
    except ValueError:
        raise json_error(400, f"Last-Event-ID must be a notification id, not {raw_last!r}",
                         "reconnect with the id of the last event you received") from None
    store = request.app[STORE_KEY]
    queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=SSE_QUEUE)
    overflow = []

    def listener(note: Notification) -> None:
        if note.user == user and not note.private:
            try:
                queue.put_nowait(note)
            except asyncio.QueueFull:  # a reader this slow resumes with Last-Event-ID instead
                overflow.append(note.id)

    unsubscribe = store.subscribe(listener)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    try:
        await response.prepare(request)
        await response.write(sse.encode(retry=1000, comment=f"notifications of {user}"))
        for note in store.for_user(user, after=last):
            try:
                queue.put_nowait(note)
            except asyncio.QueueFull:  # more to catch up than one stream holds: the rest next time
                overflow.append(note.id)
                break
        sent = last
        while True:
            if overflow and queue.empty():
                await response.write(sse.encode(
                    comment="you read too slowly; reconnect with Last-Event-ID to catch up"))
                break
            try:
                note = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE)
            except asyncio.TimeoutError:
                await response.write(sse.encode(comment="keep-alive"))
                continue
            if note.id <= sent:
                continue  # replayed and also heard live: send it once
            sent = note.id
            data = json.dumps({**note.to_json(), "t_sent": time.perf_counter()})
            await response.write(sse.encode(data, event="notification", id=note.id))
    except ConnectionResetError:
        pass  # the client went away: nothing more to send
    finally:
        unsubscribe()
    return response
