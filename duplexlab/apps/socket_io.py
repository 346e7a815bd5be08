"""Socket.IO in the lab (lesson 10): python-socketio's server on the lab's HTTP app, at ``/socket.io/``.

The route is always there; the server behind it starts only when a lesson asks
(``lab.socketio()``), so ``import duplexlab`` and ``dl.start()`` never import python-socketio.
Until then the route answers 404 with a hint.

What it serves, on the namespace ``/chat`` (and the same on ``/``):

- connecting (``auth={"name": "asha"}``) puts the client in the room ``lobby``;
- ``join`` (a room's name): enters that room; the acknowledgement is ``{"room", "members"}``;
- ``chat`` (``{"text": ..., "room": ...}``, room ``lobby`` if left out): sent as a ``chat`` event
  (``{"from", "text", "room"}``) to everyone else in the room; the acknowledgement is
  ``{"ok": true, "to": <how many>}``;
- ``echo`` (anything): the same data comes back as an ``echo`` event, and as the
  acknowledgement if one was asked for (for measuring round trips).

Budgets, so that one careless or hostile client hurts only itself:

- sessions: the lab's own clients (``lab.socketio_client``, which send the lab's key in a header,
  never in a URL) may hold :data:`MAX_SESSIONS`; every other client together
  :data:`OTHER_SESSIONS`, so a program that opens hundreds cannot lock the student out (503);
- a packet or poll body of at most :data:`MAX_PACKET` bytes (then its session is closed);
- at most :data:`MAX_QUEUED` packets waiting for a client that does not read them (then its
  session is closed: the lab's own WebSocket server does the same);
- no binary attachments (the lab's events are JSON): a binary packet closes its session;
- at most :data:`MAX_ROOMS` rooms per client.

The request policy (rule 3) lets only this path's long-polling POSTs carry ``text/plain``, as
Engine.IO sends them; the old JSONP polling (``?j=``) is refused.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from ..runtime.http import json_error
from ..runtime.policy import ENGINE_IO_PATH

__all__ = [
    "ENGINE_IO_PATH",
    "KEY_HEADER",
    "MAX_PACKET",
    "MAX_QUEUED",
    "MAX_ROOMS",
    "MAX_SESSIONS",
    "NAMESPACES",
    "OTHER_SESSIONS",
    "Options",
    "SocketIOHost",
    "add_routes",
]

MAX_SESSIONS = 256  # Engine.IO sessions the lab's own clients may hold at once
OTHER_SESSIONS = 32  # sessions every other client together may hold at once
MAX_PACKET = 16 * 1024  # bytes in one packet or one poll's body
MAX_QUEUED = 64  # packets waiting for one client that does not read them (at most ~1 MiB)
MAX_ROOMS = 16  # rooms one client may join (the lobby included)
KEY_HEADER = "X-Duplexlab-Socketio"  # the lab's own clients send the lab's key here
BINARY = ("5", "6")  # Socket.IO's BINARY_EVENT and BINARY_ACK
QUIET = logging.getLogger("duplexlab.socketio")  # python-socketio's own lines go nowhere
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False
NAMESPACES = ("/", "/chat")
LOBBY = "lobby"
CLOSE_TIMEOUT = 1.0  # seconds to say goodbye to every client when the server stops
SUBSCRIBE_TIMEOUT = 5.0  # seconds a server on a backplane waits for Redis to take its SUBSCRIBE


@dataclass(frozen=True)
class Options:
    """How the server runs: its heartbeat (seconds) and whether a client may upgrade to a WebSocket."""

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrades: bool = True

    def __post_init__(self) -> None:
        # python-engineio tells clients whole seconds (int(ping_interval) * 1000 ms): 1 s is the least
        if not (1 <= self.ping_interval <= 3600 and 0.1 <= self.ping_timeout <= 3600):
            raise ValueError(
                f"ping_interval is 1 to 3600 seconds and ping_timeout 0.1 to 3600, "
                f"not {self.ping_interval!r} and {self.ping_timeout!r}"
            )


class SocketIOHost:
    """The lab's Socket.IO server, once started; the ``/socket.io/`` route hands requests to it.

    Everything here runs on the lab's loop. :meth:`start` and :meth:`aclose` are coroutines.
    """

    def __init__(self, key: str | None = None) -> None:
        self.server: Any = None  # socketio.AsyncServer while started
        self.options: Options | None = None
        self.redis = ""  # the Redis URL its manager uses, on a cluster's server
        self.key = key or secrets.token_urlsafe(24)  # what the lab's own clients send in KEY_HEADER
        self.names: dict[str, str] = {}  # sid (per namespace connection) -> the name it gave
        self.rooms: dict[str, set[str]] = {}  # sid -> the rooms it joined
        self.kinds: dict[str, str] = {}  # Engine.IO session -> "own" (the lab's client) or "other"
        self.dropping: set[str] = set()  # sessions being closed for not reading what they are sent
        self.closing: set[asyncio.Task] = set()

    def admit(self, eio_sid: str, environ: dict) -> bool:
        """Whether a new Engine.IO session fits in its budget (the lab's own clients, or all others)."""
        given = environ.get("HTTP_" + KEY_HEADER.upper().replace("-", "_"), "")
        own = hmac.compare_digest(given.encode("utf-8", "replace"), self.key.encode())  # (bytes: any header)
        kind = "own" if own else "other"
        live = self.live_sessions()
        self.kinds = {sid: k for sid, k in self.kinds.items() if sid in live}
        if sum(1 for k in self.kinds.values() if k == kind) >= (MAX_SESSIONS if own else OTHER_SESSIONS):
            return False
        self.kinds[eio_sid] = kind
        return True

    def live_sessions(self) -> set[str]:
        """Engine.IO sessions open now (one that closed may wait for python-engineio's sweep: not counted)."""
        if self.server is None:
            return set()
        return {sid for sid, s in list(self.server.eio.sockets.items()) if not s.closed}

    def falls_behind(self, eio_sid: str) -> bool:
        """Whether a session has :data:`MAX_QUEUED` packets it has not taken: then it is closed (once)."""
        if eio_sid in self.dropping:
            return True
        socket = self.server.eio.sockets.get(eio_sid) if self.server is not None else None
        if socket is None or socket.queue.qsize() < MAX_QUEUED:
            return False
        self.drop(eio_sid)
        return True

    def drop(self, eio_sid: str) -> None:
        """Close a session soon, outside whatever loop over sessions is running."""
        self.dropping.add(eio_sid)
        server = self.server

        async def close() -> None:
            try:
                await server.eio.disconnect(eio_sid)
            finally:
                self.dropping.discard(eio_sid)

        task = asyncio.get_running_loop().create_task(close())
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    def forget(self, eio_sid: str) -> None:
        self.kinds.pop(eio_sid, None)

    async def start(self, options: Options, *, redis: str = "", channel: str = "duplexlab-socketio") -> None:
        """Start the server with ``options``; with other options than the running one's, replace it
        (its clients are disconnected). The same options again: nothing changes.

        ``redis`` (a ``redis://`` URL, a cluster's backplane): python-socketio's Redis manager joins
        this server to the others on that Redis, so a room spans servers; ``channel`` is its pub/sub
        channel there."""
        if self.server is not None and (self.options, self.redis) == (options, redis):
            return
        await self.aclose()
        import socketio  # on first use: only lesson 10 needs it

        manager = socketio.AsyncRedisManager(redis, channel=channel) if redis else None
        server = _server_class()(
            self,
            client_manager=manager,
            async_mode="aiohttp",
            cors_allowed_origins=[],  # no CORS headers: the lab's request policy decides who may ask
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            allow_upgrades=options.upgrades,
            max_http_buffer_size=MAX_PACKET,
            namespaces=list(NAMESPACES),
            logger=QUIET,  # (False still prints python-engineio's errors to the cell: a hostile client's)
            engineio_logger=QUIET,
        )
        for namespace in NAMESPACES:
            self._handlers(server, namespace)
        if redis:
            await _listen_now(server)
        self.server, self.options, self.redis = server, options, redis

    def _handlers(self, server: Any, namespace: str) -> None:
        async def connect(sid: str, environ: dict, auth: object = None) -> None:
            name = auth.get("name") if isinstance(auth, dict) else None
            self.names[sid] = str(name)[:40] if name else f"guest-{sid[:4]}"
            await server.enter_room(sid, LOBBY, namespace=namespace)

        async def disconnect(sid: str, *args: object) -> None:
            self.names.pop(sid, None)
            self.rooms.pop(sid, None)

        async def join(sid: str, room: object) -> dict:
            if not isinstance(room, str) or not 0 < len(room) <= 40:
                return {"ok": False, "error": "a room is a name of 1 to 40 characters"}
            joined = self.rooms.setdefault(sid, {LOBBY})
            if room not in joined and len(joined) >= MAX_ROOMS:
                return {"ok": False, "error": f"a client may be in {MAX_ROOMS} rooms at most: leave one first"}
            joined.add(room)
            await server.enter_room(sid, room, namespace=namespace)
            return {"ok": True, "room": room, "members": self.members(room, namespace)}

        async def chat(sid: str, data: object) -> dict:
            if not isinstance(data, dict) or not isinstance(data.get("text"), str):
                return {"ok": False, "error": 'send {"text": "...", "room": "..."}'}
            room = data.get("room") or LOBBY
            if not isinstance(room, str) or room not in self.rooms.get(sid, {LOBBY}):
                return {"ok": False, "error": f"you are not in the room {room!r}: emit 'join' first"}
            message = {"from": self.names.get(sid, "?"), "text": data["text"], "room": room}
            await server.emit("chat", message, room=room, skip_sid=sid, namespace=namespace)
            return {"ok": True, "to": self.members(room, namespace) - 1}

        async def echo(sid: str, data: object = None) -> object:
            await server.emit("echo", data, to=sid, namespace=namespace)
            return data

        handlers: dict[str, Any] = {
            "connect": connect,
            "disconnect": disconnect,
            "join": join,
            "chat": chat,
            "echo": echo,
        }
        for name, handler in handlers.items():
            server.on(name, handler, namespace=namespace)

    def members(self, room: str, namespace: str = "/chat") -> int:
        """How many clients are in ``room`` now."""
        if self.server is None:
            return 0
        return sum(1 for _ in self.server.manager.get_participants(namespace, room))

    def sessions(self) -> int:
        """Engine.IO sessions open now (one per client, whatever its transport)."""
        return len(self.live_sessions())

    def transports(self) -> dict[str, str]:
        """Each session's transport now: ``{"sid…": "polling" | "websocket"}``."""
        if self.server is None:
            return {}
        return {sid: ("websocket" if s.upgraded else "polling") for sid, s in self.server.eio.sockets.items()}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``/socket.io/`` route: to the server, within the budget, or a JSON error."""
        server = self.server
        if server is None:
            raise json_error(
                404,
                "the lab's Socket.IO server is not started",
                "run lab.socketio() in the notebook first (lesson 10)",
            )
        query = parse_qs(request.query_string)  # as python-engineio reads it (an empty sid= is no sid)
        if "j" in query:
            raise json_error(400, "JSONP polling is not served", "use a Socket.IO client of version 3 or later")
        opening = "sid" not in query  # the budget is kept where the session is made (LabServer)
        try:
            response = await server.handle_request(request)
        except KeyError:  # python-engineio, for a POST to a session it closed but has not swept yet
            raise json_error(400, "this Socket.IO session has ended", "connect again (a new session)") from None
        if response is None:
            return web.Response()  # a WebSocket that ended
        if opening and response.status == 401:
            raise json_error(
                503,
                "the lab holds as many Socket.IO sessions as it allows",
                "disconnect clients you no longer use (client.close()), then connect again",
            )
        if not response.prepared:
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Cache-Control"] = "no-store"
        return response

    async def aclose(self) -> None:
        """Disconnect every client and stop the server. Twice is harmless."""
        server, self.server = self.server, None
        self.names.clear()
        self.rooms.clear()
        self.kinds.clear()
        if server is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                if server.eio.sockets:  # (with none, python-engineio waits on an empty set: an error)
                    await server.eio.disconnect()  # every session: a close packet, then its transport
        except TimeoutError:
            server.eio.sockets.clear()  # a client that did not take its close: forgotten
        await server.shutdown()


async def _listen_now(server: Any, timeout: float = SUBSCRIBE_TIMEOUT) -> None:
    """Start the Redis manager's listener now, and wait until its SUBSCRIBE has gone to Redis.

    python-socketio starts it on the first client's connect, so a room's message that another
    server published before this one had subscribed was lost (beside two CPU burners, 4 runs in 21
    of the cluster test). After ``timeout`` seconds without Redis, go on: the manager keeps trying
    in the background."""
    server.manager_initialized = True  # what python-socketio's first connect does, done now
    server.manager.initialize()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        pubsub = getattr(server.manager, "pubsub", None)
        if pubsub is not None and pubsub.subscribed:  # set once SUBSCRIBE is sent
            return
        await asyncio.sleep(0.01)


def add_routes(app: web.Application, host: SocketIOHost) -> None:
    """``/socket.io/``, any method: Engine.IO's long polls and its WebSocket upgrade."""
    app.router.add_route("*", ENGINE_IO_PATH, host.handle)


def describe(options: Options) -> str:
    """One line about a running server's settings."""
    upgrades = "polling, then a WebSocket" if options.upgrades else "polling only (upgrades refused)"
    return (
        f"Socket.IO at {ENGINE_IO_PATH}: ping every {options.ping_interval:g} s, "
        f"timeout {options.ping_timeout:g} s, {upgrades}; namespaces {', '.join(NAMESPACES)}"
    )


def _server_class() -> Any:
    """python-socketio's ``AsyncServer`` with the lab's budgets (made on first use: the import is heavy)."""
    import socketio

    class LabServer(socketio.AsyncServer):
        def __init__(self, host: SocketIOHost, **options: Any) -> None:
            self.host = host
            super().__init__(**options)

        async def _handle_eio_connect(self, eio_sid: str, environ: dict) -> Any:
            if not self.host.admit(eio_sid, environ):
                return False  # python-engineio forgets the session and answers 401; handle() words it
            return await super()._handle_eio_connect(eio_sid, environ)

        async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
            if not isinstance(data, str) or data[:1] in BINARY:  # attachments: the lab's events are JSON
                self.host.drop(eio_sid)
                return
            await super()._handle_eio_message(eio_sid, data)

        async def _handle_eio_disconnect(self, eio_sid: str, *args: Any) -> None:
            self.host.forget(eio_sid)
            await super()._handle_eio_disconnect(eio_sid, *args)

        async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
            if not self.host.falls_behind(eio_sid):
                await super()._send_packet(eio_sid, pkt)

        async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
            if not self.host.falls_behind(eio_sid):
                await super()._send_eio_packet(eio_sid, eio_pkt)

    return LabServer
