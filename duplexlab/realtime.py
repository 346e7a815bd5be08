"""The lab's WebSocket server (the ``websockets`` library): chat, pushed notifications, echo.

One server, routed by path:

- ``/chat?name=asha``          a chat room: everyone gets every message, and who is online
- ``/notifications/<user>``    the social app pushes each new notification of ``<user>``
- ``/echo``                    sends every message back (for measuring round trips)

Every message is a JSON object with a ``type``. A malformed one gets
``{"type": "error", "error": ..., "hint": ...}`` back and the connection stays
open; a message over ``max_size`` closes that connection with 1009, and the
server goes on serving the others. Per-message compression is off, so a tap
shows payloads as they are.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .errors import PortInUseError
from .social import Notification, NotificationStore, valid_user

__all__ = ["ConnectionRecord", "RealtimeServer", "parse_message"]

MAX_MESSAGE = 64 * 1024


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
        self.records: list[ConnectionRecord] = []
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
                self._handle, self.host, self.port, compression=None,
                max_size=self.max_size, process_request=self._check_request,
            )
        except OSError as exc:
            if exc.errno == 98:
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    # -- the handshake ------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/chat":
            name = parse_qs(urlsplit(request.path).query).get("name", [""])[0]
            try:
                valid_user(name)
            except ValueError as exc:
                return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}; connect to /chat?name=asha\n")
            return None
        if path == "/echo":
            return None
        if path.startswith("/notifications/"):
            try:
                valid_user(path.removeprefix("/notifications/"))
            except ValueError as exc:
                return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}\n")
            return None
        return connection.respond(
            HTTPStatus.NOT_FOUND,
            f"no WebSocket endpoint at {path}; use /chat?name=<you>, /notifications/<user> or /echo\n",
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
            async for raw in ws:
                record.received += 1
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

    async def _notifications(self, ws: ServerConnection, record: ConnectionRecord, user: str) -> None:
        queue: asyncio.Queue[Notification] = asyncio.Queue()

        def listener(note: Notification) -> None:
            if note.user == user:
                queue.put_nowait(note)

        unsubscribe = self.notifications.subscribe(listener)

        async def push() -> None:
            while True:
                note = await queue.get()
                await self._send(ws, record, json.dumps({"type": "notification", **note.to_json(),
                                                         "t_sent": time.perf_counter()}))

        pusher = asyncio.get_running_loop().create_task(push())
        try:
            await self._send(ws, record, json.dumps({"type": "subscribed", "user": user}))
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
            unsubscribe()
            pusher.cancel()
            await asyncio.gather(pusher, return_exceptions=True)
