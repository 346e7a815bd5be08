"""The lab's WebSocket server (the ``websockets`` library): chat, pushed notifications, echo.

One server, routed by path:

- ``/chat?name=asha``          a chat room: everyone gets every message, and who is online
- ``/notifications/<user>``    the social app pushes each new notification of ``<user>``
- ``/echo``                    sends every message back (for measuring round trips)
- ``/stream/<topic>?last=N``   numbered messages; a client that reconnects with the last
                               number it saw gets what it missed (from a bounded buffer)
- ``/private/<user>``          like ``/notifications/<user>``, after ``{"type": "auth", "token": ...}``

Every message is a JSON object with a ``type``. A malformed one gets
``{"type": "error", "error": ..., "hint": ...}`` back and the connection stays
open; a message over ``max_size`` closes that connection with 1009, and the
server goes on serving the others. Per-message compression is off, so a tap
shows payloads as they are.

Security: a browser sends an ``Origin`` header, and the server refuses (403)
pages whose origin is not in ``allowed_origins`` (the course's widgets register
Jupyter's origin through the kernel); clients that are not browsers send none.
Chat messages are rate-limited (1008 when exceeded); private channels want a
token in the first message, never in the URL, where logs would keep it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .errors import PortInUseError
from .social import Notification, NotificationStore, valid_user

__all__ = [
    "LOGGER",
    "ConnectionRecord",
    "RealtimeServer",
    "Topic",
    "WebSocketServer",
    "parse_message",
]


class _DropClosedConnections(logging.Filter):
    """Drop log records about connections that closed or timed out.

    Those already reach the code that uses the connection, as an exception
    (``ConnectionClosed``), so their tracebacks in a cell would only repeat
    it. Every other error is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, (ConnectionClosed, TimeoutError, ConnectionError)):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


LOGGER = logging.getLogger("duplexlab.websockets")
LOGGER.addFilter(_DropClosedConnections())

MAX_MESSAGE = 64 * 1024
CHAT_RATE = 20  # messages per second per connection
AUTH_TIMEOUT = 5.0
TOPIC_BUFFER = 10_000
SEND_QUEUE = 20_000


def parse_message(raw: str | bytes, *, types: tuple[str, ...]) -> dict:
    """A client's message as a dict with a known ``type``, else ``ValueError`` saying why."""
    if isinstance(raw, bytes):
        raise ValueError("binary messages are not used here; send JSON text")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError('a message is a JSON object with a "type"')
    if data["type"] not in types:
        raise ValueError(f"unknown type {data['type']!r}; this channel takes {', '.join(types)}")
    return data


def _error(error: str, hint: str) -> str:
    return json.dumps({"type": "error", "error": error, "hint": hint})


@dataclass
class ConnectionRecord:
    """One WebSocket connection as the server saw it. Times are on the lab clock."""

    id: int
    path: str
    origin: str | None
    t_open: float
    t_close: float | None = None
    close_code: int | None = None
    close_reason: str = ""
    received: int = 0
    sent: int = 0

    @property
    def open(self) -> bool:
        return self.t_close is None


@dataclass
class _Room:
    members: dict[ServerConnection, str] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def online(self) -> list[str]:
        return sorted(set(self.members.values()))


class Topic:
    """Numbered messages on one topic, with the last ``buffer`` kept for replay.

    Not thread-safe on purpose: used on the lab's loop only.
    """

    def __init__(self, name: str, *, buffer: int = TOPIC_BUFFER) -> None:
        self.name = name
        self.seq = 0
        self.kept: collections.deque[tuple[int, str]] = collections.deque(maxlen=buffer)
        self.queues: set[asyncio.Queue] = set()

    @property
    def oldest(self) -> int:
        """The oldest number still kept (``seq + 1`` when nothing is kept)."""
        return self.kept[0][0] if self.kept else self.seq + 1

    def publish(self, data: object) -> int:
        self.seq += 1
        text = json.dumps({"type": "message", "topic": self.name, "seq": self.seq, "data": data,
                           "t": time.perf_counter()})
        self.kept.append((self.seq, text))
        for queue in list(self.queues):
            queue.put_nowait(text)
        return self.seq


class RealtimeServer:
    """The WebSocket server; start with ``await server.start()`` on the lab loop."""

    def __init__(
        self,
        notifications: NotificationStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_size: int = MAX_MESSAGE,
    ) -> None:
        self.notifications = notifications
        self.host, self.port, self.max_size = host, port, max_size
        self.room = _Room()
        self.topics: dict[str, Topic] = {}
        self.allowed_origins: set[str] = set()
        self.refused: list[tuple[float, str, str, int]] = []  # (t, origin, path, status)
        self.tokens: dict[str, str] = {}
        self.records: list[ConnectionRecord] = []
        self._subscribers: dict[str, dict[ServerConnection, ConnectionRecord]] = {}
        self._unsubscribe = None
        self._ids = itertools.count(1)
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def open_connections(self) -> list[ConnectionRecord]:
        return [r for r in self.records if r.open]

    async def start(self) -> None:
        try:
            self._server = await serve(
                self._handle, self.host, self.port, compression=None, logger=LOGGER,
                max_size=self.max_size, process_request=self._check_request,
            )
        except OSError as exc:
            if exc.errno == 98:
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.notifications.subscribe(self._push_notification)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    # -- the handshake ------------------------------------------------------

    def topic(self, name: str) -> Topic:
        if name not in self.topics:
            self.topics[name] = Topic(name)
        return self.topics[name]

    def issue_token(self, user: str) -> str:
        """A secret token for ``user``'s private channel."""
        valid_user(user)
        token = secrets.token_urlsafe(16)
        self.tokens[token] = user
        return token

    def _refuse(self, connection: ServerConnection, request: Request, status: HTTPStatus,
                text: str) -> Response:
        self.refused.append((time.perf_counter(), request.headers.get("Origin", ""), request.path,
                             int(status)))
        return connection.respond(status, text)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.allowed_origins:
            return self._refuse(
                connection, request, HTTPStatus.FORBIDDEN,
                f"a page from {origin} may not open WebSockets to the lab; the course's widgets "
                "register Jupyter's origin through the kernel (lab.allow_origin(...))\n",
            )
        response = self._check_path(connection, request)
        if response is not None:
            self.refused.append((time.perf_counter(), origin or "", request.path,
                                 response.status_code))
        return response

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path.startswith("/stream/"):
            topic = path.removeprefix("/stream/")
            last = parse_qs(urlsplit(request.path).query).get("last", ["-1"])[0]
            if not topic or not last.lstrip("-").isdigit():
                return connection.respond(HTTPStatus.BAD_REQUEST,
                                          "connect to /stream/<topic>?last=<the last number you saw>\n")
            return None
        for prefix in ("/private/", "/notifications/"):
            if path.startswith(prefix):
                try:
                    valid_user(path.removeprefix(prefix))
                except ValueError as exc:
                    return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}\n")
                return None
        if path == "/chat":
            name = parse_qs(urlsplit(request.path).query).get("name", [""])[0]
            try:
                valid_user(name)
            except ValueError as exc:
                return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}; connect to /chat?name=asha\n")
            return None
        if path == "/echo":
            return None
        return connection.respond(
            HTTPStatus.NOT_FOUND,
            f"no WebSocket endpoint at {path}; use /chat?name=<you>, /notifications/<user>, "
            "/stream/<topic>?last=N, /private/<user> or /echo\n",
        )

    # -- connections --------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path)
        record = ConnectionRecord(next(self._ids), ws.request.path,
                                  ws.request.headers.get("Origin"), time.perf_counter())
        self.records.append(record)
        try:
            if parts.path == "/chat":
                await self._chat(ws, record, parse_qs(parts.query)["name"][0])
            elif parts.path == "/echo":
                await self._echo(ws, record)
            elif parts.path.startswith("/stream/"):
                last = int(parse_qs(parts.query).get("last", ["-1"])[0])
                await self._stream(ws, record, parts.path.removeprefix("/stream/"), last)
            elif parts.path.startswith("/private/"):
                await self._private(ws, record, parts.path.removeprefix("/private/"))
            else:
                await self._notifications(ws, record, parts.path.removeprefix("/notifications/"))
        except ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            record.t_close = time.perf_counter()
            received, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
            if received is not None:
                record.close_code, record.close_reason = received.code, received.reason
            elif sent is not None:
                record.close_code, record.close_reason = sent.code, sent.reason
            else:
                record.close_code = 1006  # no close frame either way: the connection was cut

    async def _send(self, ws: ServerConnection, record: ConnectionRecord, text: str) -> None:
        await ws.send(text)
        record.sent += 1

    async def _echo(self, ws: ServerConnection, record: ConnectionRecord) -> None:
        async for message in ws:
            record.received += 1
            await ws.send(message)
            record.sent += 1

    async def _chat(self, ws: ServerConnection, record: ConnectionRecord, name: str) -> None:
        room = self.room
        room.members[ws] = name
        try:
            await self._send(ws, record, json.dumps({"type": "welcome", "you": name, "online": room.online()}))
            others = [m for m in room.members if m is not ws]
            broadcast(others, json.dumps({"type": "presence", "joined": name, "online": room.online()}))
            window: collections.deque[float] = collections.deque()
            async for raw in ws:
                record.received += 1
                now = time.perf_counter()
                window.append(now)
                while window and now - window[0] > 1.0:
                    window.popleft()
                if len(window) > CHAT_RATE:
                    closing = asyncio.get_running_loop().create_task(
                        ws.close(1008, f"rate limit: more than {CHAT_RATE} messages a second"))
                    async for _ in ws:
                        pass  # drop what is already on its way, so the client's close frame is read
                    await closing
                    return
                try:
                    data = parse_message(raw, types=("message",))
                    text = data.get("text")
                    if not isinstance(text, str) or not text:
                        raise ValueError('a chat message needs a non-empty "text"')
                except ValueError as exc:
                    await self._send(ws, record, _error(str(exc), 'send {"type": "message", "text": "hi"}'))
                    continue
                out = json.dumps({"type": "message", "id": next(room.ids), "from": name,
                                  "text": text, "t": time.perf_counter()})
                broadcast(list(room.members), out)
        finally:
            room.members.pop(ws, None)
            broadcast(list(room.members), json.dumps({"type": "presence", "left": name, "online": room.online()}))

    def _push_notification(self, note: Notification) -> None:
        """Store listener: write the notification to every socket of its user at once."""
        subscribers = self._subscribers.get(note.user)
        if subscribers:
            text = json.dumps({"type": "notification", **note.to_json(), "t_sent": time.perf_counter()})
            broadcast(list(subscribers), text)  # one serialization, no task switch per socket
            for record in subscribers.values():
                record.sent += 1

    async def _notifications(self, ws: ServerConnection, record: ConnectionRecord, user: str) -> None:
        await self._send(ws, record, json.dumps({"type": "subscribed", "user": user}))
        self._subscribers.setdefault(user, {})[ws] = record
        try:
            async for raw in ws:
                record.received += 1
                try:
                    parse_message(raw, types=("ping",))
                except ValueError as exc:
                    await self._send(ws, record, _error(str(exc), "this channel only pushes; "
                                                        'you may send {"type": "ping"}'))
                    continue
                await self._send(ws, record, json.dumps({"type": "pong", "t": time.perf_counter()}))
        finally:
            subscribers = self._subscribers.get(user, {})
            subscribers.pop(ws, None)
            if not subscribers:
                self._subscribers.pop(user, None)


    async def _stream(self, ws: ServerConnection, record: ConnectionRecord, name: str, last: int) -> None:
        topic = self.topic(name)
        queue: asyncio.Queue[str] = asyncio.Queue()
        hello = {"type": "subscribed", "topic": name, "latest": topic.seq, "oldest": topic.oldest}
        queue.put_nowait(json.dumps(hello))
        if last >= 0:
            if last + 1 < topic.oldest:
                queue.put_nowait(json.dumps({
                    "type": "gap", "from": last + 1, "to": topic.oldest - 1,
                    "error": f"messages {last + 1} to {topic.oldest - 1} are no longer kept "
                             f"(the server keeps the last {topic.kept.maxlen})",
                    "hint": f"reload the whole state, then follow from {topic.oldest}",
                }))
            for seq, text in topic.kept:
                if seq > last:
                    queue.put_nowait(text)
        topic.queues.add(queue)  # no await since the replay: nothing published in between is lost

        async def send_all() -> None:
            while True:
                if queue.qsize() > SEND_QUEUE:
                    await ws.close(1013, "you read too slowly; reconnect with ?last=<the last number you saw>")
                    return
                await self._send(ws, record, await queue.get())

        sender = asyncio.get_running_loop().create_task(send_all())
        try:
            async for _ in ws:
                record.received += 1
                await self._send(ws, record, _error("this stream only sends",
                                                    "reconnect with ?last=N to resume instead"))
        finally:
            topic.queues.discard(queue)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _private(self, ws: ServerConnection, record: ConnectionRecord, user: str) -> None:
        try:
            raw = await asyncio.wait_for(ws.recv(), AUTH_TIMEOUT)
            data = parse_message(raw, types=("auth",))
        except asyncio.TimeoutError:
            await ws.close(1008, f'send {{"type": "auth", "token": ...}} within {AUTH_TIMEOUT:g} s')
            return
        except ValueError:
            await ws.close(1008, 'the first message must be {"type": "auth", "token": ...}')
            return
        if self.tokens.get(data.get("token")) != user:
            await ws.close(1008, f"invalid token for {user}; get one with lab.issue_token({user!r})")
            return
        await self._notifications(ws, record, user)


class WebSocketServer:
    """A WebSocket server of your own, on an event-loop thread of its own.

    For experiments that may break a server (a handler that blocks its event
    loop, for one) without touching the lab. ``options`` go to
    ``websockets.asyncio.server.serve`` (``ping_interval``, ``ping_timeout``, …).

    Example::

        async def echo(ws):
            async for message in ws:
                await ws.send(message)

        with dl.WebSocketServer(echo) as server:
            ws = websockets.sync.client.connect(server.url, proxy=None)
    """

    def __init__(self, handler, *, host: str = "127.0.0.1", port: int = 0, **options) -> None:
        from .runtime import LoopThread

        self.handler, self.host, self.port = handler, host, port
        self.options = {"compression": None, "logger": LOGGER, **options}
        self.loop = LoopThread(name="duplexlab-wsserver")
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> WebSocketServer:
        if self._server is None:
            self.loop.start()

            async def begin() -> Server:  # serve() must be awaited inside a coroutine on the loop
                return await serve(self.handler, self.host, self.port, **self.options)

            try:
                self._server = self.loop.run(begin(), 10)
            except OSError as exc:
                self.loop.close()
                if exc.errno == 98:
                    raise PortInUseError(self.host, self.port) from None
                raise
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None and self.loop.running:
            async def stop() -> None:
                server.close()
                await server.wait_closed()

            try:
                self.loop.run(stop(), 15)
            except TimeoutError:
                pass
        self.loop.close()

    def __enter__(self) -> WebSocketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
