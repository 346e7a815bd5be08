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

Budgets: at most :data:`MAX_SESSIONS` Engine.IO sessions at once (then 503), and a packet or
poll body of at most :data:`MAX_PACKET` bytes (then the session is closed). The request policy
(rule 3) lets only this path's long-polling POSTs carry ``text/plain``, as Engine.IO sends them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..runtime.http import json_error
from ..runtime.policy import ENGINE_IO_PATH

__all__ = ["ENGINE_IO_PATH", "MAX_PACKET", "MAX_SESSIONS", "NAMESPACES", "Options", "SocketIOHost", "add_routes"]

MAX_SESSIONS = 256  # Engine.IO sessions at once, per lab
MAX_PACKET = 64 * 1024  # bytes in one packet or one poll's body
NAMESPACES = ("/", "/chat")
LOBBY = "lobby"
CLOSE_TIMEOUT = 1.0  # seconds to say goodbye to every client when the server stops


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

    def __init__(self) -> None:
        self.server: Any = None  # socketio.AsyncServer while started
        self.options: Options | None = None
        self.redis = ""  # the Redis URL its manager uses, on a cluster's server
        self.names: dict[str, str] = {}  # sid (per namespace connection) -> the name it gave

    @property
    def running(self) -> bool:
        return self.server is not None

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
        server = socketio.AsyncServer(
            client_manager=manager,
            async_mode="aiohttp",
            cors_allowed_origins=[],  # no CORS headers: the lab's request policy decides who may ask
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            allow_upgrades=options.upgrades,
            max_http_buffer_size=MAX_PACKET,
            namespaces=list(NAMESPACES),
            logger=False,
            engineio_logger=False,
        )
        for namespace in NAMESPACES:
            self._handlers(server, namespace)
        self.server, self.options, self.redis = server, options, redis

    def _handlers(self, server: Any, namespace: str) -> None:
        async def connect(sid: str, environ: dict, auth: object = None) -> None:
            name = auth.get("name") if isinstance(auth, dict) else None
            self.names[sid] = str(name)[:40] if name else f"guest-{sid[:4]}"
            await server.enter_room(sid, LOBBY, namespace=namespace)

        async def disconnect(sid: str, *args: object) -> None:
            self.names.pop(sid, None)

        async def join(sid: str, room: object) -> dict:
            if not isinstance(room, str) or not 0 < len(room) <= 40:
                return {"ok": False, "error": "a room is a name of 1 to 40 characters"}
            await server.enter_room(sid, room, namespace=namespace)
            return {"ok": True, "room": room, "members": self.members(room, namespace)}

        async def chat(sid: str, data: object) -> dict:
            if not isinstance(data, dict) or not isinstance(data.get("text"), str):
                return {"ok": False, "error": 'send {"text": "...", "room": "..."}'}
            room = data.get("room") or LOBBY
            if not isinstance(room, str) or room not in server.rooms(sid, namespace=namespace):
                return {"ok": False, "error": f"you are not in the room {room!r}: emit 'join' first"}
            message = {"from": self.names.get(sid, "?"), "text": data["text"], "room": room}
            await server.emit("chat", message, room=room, skip_sid=sid, namespace=namespace)
            return {"ok": True, "to": self.members(room, namespace) - 1}

        async def echo(sid: str, data: object = None) -> object:
            await server.emit("echo", data, to=sid, namespace=namespace)
            return data

        handlers: dict[str, Any] = {"connect": connect, "disconnect": disconnect, "join": join, "chat": chat}
        handlers["echo"] = echo
        for name, handler in handlers.items():
            server.on(name, handler, namespace=namespace)

    def members(self, room: str, namespace: str = "/chat") -> int:
        """How many clients are in ``room`` now."""
        if self.server is None:
            return 0
        return sum(1 for _ in self.server.manager.get_participants(namespace, room))

    def sessions(self) -> int:
        """Engine.IO sessions open now (one per client, whatever its transport)."""
        return len(self.server.eio.sockets) if self.server is not None else 0

    def transports(self) -> dict[str, str]:
        """Each session's transport now: ``{"sid…": "polling" | "websocket"}``."""
        if self.server is None:
            return {}
        return {sid: ("websocket" if s.upgraded else "polling") for sid, s in self.server.eio.sockets.items()}

    async def emit(self, event: str, data: object, *, room: str | None = None, namespace: str = "/chat") -> None:
        """Send ``event`` from the server: to ``room``, or to every client of ``namespace``."""
        if self.server is None:
            raise RuntimeError("the Socket.IO server is not started: run lab.socketio() first")
        await self.server.emit(event, data, room=room, namespace=namespace)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``/socket.io/`` route: to the server, within the budget, or a JSON error."""
        server = self.server
        if server is None:
            raise json_error(
                404,
                "the lab's Socket.IO server is not started",
                "run lab.socketio() in the notebook first (lesson 10)",
            )
        if "sid" not in request.query and len(server.eio.sockets) >= MAX_SESSIONS:
            raise json_error(
                503,
                f"the lab holds {MAX_SESSIONS} Socket.IO sessions already",
                "disconnect clients you no longer use (client.close()), then connect again",
            )
        response = await server.handle_request(request)
        return response if response is not None else web.Response()  # a WebSocket that ended

    async def aclose(self) -> None:
        """Disconnect every client and stop the server. Twice is harmless."""
        server, self.server = self.server, None
        self.names.clear()
        if server is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                if server.eio.sockets:  # (with none, python-engineio waits on an empty set: an error)
                    await server.eio.disconnect()  # every session: a close packet, then its transport
        except TimeoutError:
            server.eio.sockets.clear()  # a client that did not take its close: forgotten
        await server.shutdown()


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
