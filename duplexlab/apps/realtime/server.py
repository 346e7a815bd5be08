"""The lab's WebSocket server: the handshake's admission, the route table, and a handler per connection.

:class:`RealtimeServer` ties the pieces together: :func:`~.admission.admit`
decides at the handshake (the record is kept on the connection), the
:class:`~.routes.Routes` table names each path's channel, and :meth:`_handle`
runs one connection: its record, a classroom student's socket count, the
channel's ``serve``, and 1011 if that fails.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ...errors import PortInUseError, is_address_in_use
from ...runtime.classroom import Roster
from ...runtime.hygiene import ConnectionGate
from ...runtime.policy import RUNNER_OWNER, RequestPolicy, single
from ...runtime.websocket import LOGGER, close_server
from ..notifications import NotificationStore
from .admission import Admission, admit, select_subprotocol
from .chat import Chat, Room
from .connection import RealtimeConnection, connection_type
from .echo import Alive, Echo
from .feed import Feed
from .private import TOKEN_TTL, Private, Tokens
from .records import ConnectionRecord, Records
from .routes import Route, Routes
from .seats import Seats
from .stream import Stream, Topic

__all__ = ["MAX_MESSAGE", "MAX_REFUSED", "MAX_WIRE", "RealtimeServer"]

MAX_MESSAGE = 64 * 1024  # per message, checked by each channel (1009 beyond)
MAX_WIRE = 2 * 1024 * 1024  # per message, checked by the library while reading (1009 beyond)
MAX_REFUSED = 1_000


class RealtimeServer:
    """The WebSocket server; start with ``await server.start()`` on the lab loop.

    Args:
        notifications: the store whose notifications it pushes.
        policy: the lab's request policy (a fresh one allows loopback hosts, no origins).
        gate: the lab's connection gate (a fresh one sized from the open-file limit).
        name: in a cluster, this server's name, told to each client in its "subscribed" greeting.
        roster: in classroom mode, whose credentials open sockets (``Authorization: Bearer …``).
    """

    def __init__(
        self,
        notifications: NotificationStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_size: int = MAX_MESSAGE,
        policy: RequestPolicy | None = None,
        gate: ConnectionGate | None = None,
        name: str = "",
        roster: Roster | None = None,
    ) -> None:
        self.notifications = notifications
        self.roster = roster  # classroom mode: every handshake carries a credential
        self.name = name  # in a cluster, which server this is (said in each "subscribed" greeting)
        self.host, self.port, self.max_size = host, port, max_size
        self.policy = policy or RequestPolicy(bound_host=host)
        self.gate = gate or ConnectionGate()
        self.refused: collections.deque[tuple[float, str, str, int]] = collections.deque(
            maxlen=MAX_REFUSED
        )  # (t, origin, path, status)
        self.chat = Chat(max_size=max_size)
        self.feed = Feed(notifications, server=name, max_size=max_size)
        self.private = Private(self.feed, Tokens(), max_size=max_size)
        self.stream = Stream(server=name, max_size=max_size)
        self.echo, self.alive = Echo(max_size=max_size), Alive(max_size=max_size)
        self.routes = Routes(
            [
                Route("/chat", "chat", self.chat.open, usage="/chat?name=<you>"),
                Route("/notifications/", "notifications", self.feed.open, usage="/notifications/<user>", own=True),
                Route("/stream/", "stream", self.stream.open, usage="/stream/<topic>?last=N"),
                Route("/private/", "private", self.private.open, usage="/private/<user>", own=True),
                Route("/echo", "echo", self.echo.open, usage="/echo"),
                Route("/alive", "alive", self.alive.open),  # a browser widget's line to the lab
            ]
        )
        self.seats = Seats(roster) if roster is not None else None
        self._records = Records()
        self._unsubscribe: Callable[[], None] | None = None
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def allowed_origins(self) -> set[str]:
        """The browser origins the lab's policy allows (change them with ``lab.allow_origin``)."""
        return self.policy.allowed_origins

    @property
    def records(self) -> list[ConnectionRecord]:
        """The connections, in the order they opened: all open ones, and the last closed ones.

        At most ``MAX_RECORDS`` closed connections are kept, so a long-running
        lab's memory does not grow with every connection it ever had.
        """
        return self._records.all()

    @property
    def open_connections(self) -> list[ConnectionRecord]:
        return self._records.still_open()

    @property
    def room(self) -> Room:
        """The chat room: who is in it, and its last messages."""
        return self.chat.room

    @property
    def topics(self) -> dict[str, Topic]:
        return self.stream.topics

    @property
    def tokens(self) -> dict[str, tuple[str, float]]:
        """The private channels' tokens: token -> (user, expiry on the lab clock)."""
        return self.private.tokens.issued

    def topic(self, name: str) -> Topic:
        """The topic called ``name``, made if new (``ValueError`` past ``MAX_TOPICS`` or a bad name)."""
        return self.stream.topic(name)

    def issue_token(self, user: str, *, ttl: float = TOKEN_TTL) -> str:
        """A secret token for ``user``'s private channel, valid for ``ttl`` seconds."""
        return self.private.tokens.issue(user, ttl=ttl)

    def token_user(self, token: object) -> tuple[str | None, str]:
        """Whose token this is, or ``(None, why not)``."""
        return self.private.tokens.user(token)

    async def start(self) -> None:
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                compression=None,
                logger=LOGGER,
                max_size=MAX_WIRE,
                process_request=self._check_request,
                select_subprotocol=select_subprotocol,
                create_connection=connection_type(self.gate),
            )
        except OSError as exc:
            if is_address_in_use(exc):
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.notifications.subscribe(self.feed.push)

    async def close_owned_by(self, owner: str, code: int, reason: str, *, grace: float = 0.3) -> tuple[int, int]:
        """Close every open connection whose owner is ``owner`` (on the loop): ``code`` and ``reason`` at
        once, then, ``grace`` seconds later, cut those whose closing handshake has not finished (a client
        that never reads or never answers). Returns (how many, how many of them were cut)."""
        server = self._server
        connections = server.connections if server else set()
        theirs = [c for c in connections if isinstance(c, RealtimeConnection) and c.owner == owner]
        if not theirs:
            return 0, 0
        closing = [asyncio.ensure_future(c.close(code, reason)) for c in theirs]
        _, pending = await asyncio.wait(closing, timeout=grace)
        cut = 0
        for connection in theirs:
            if connection.state is not State.CLOSED and connection.transport is not None:
                connection.transport.abort()
                cut += 1
        for task in pending:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)
        return len(theirs), cut

    async def close(self, *, grace: float = 0.4) -> None:
        """Stop serving: every connection gets 1001 at once and ``grace`` seconds, then is cut."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        server, self._server = self._server, None
        if server is not None:
            await close_server(server, grace=grace)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The handshake: admit it (the admission is kept on the connection), or refuse it and note that."""
        assert isinstance(connection, RealtimeConnection)  # made by connection_type
        admitted = admit(request, routes=self.routes, policy=self.policy, roster=self.roster)
        if isinstance(admitted, Admission):
            connection.admission = admitted
            return None
        origin = single(request.headers.get_all("Origin"))
        self.refused.append((time.perf_counter(), origin or "", request.path, int(admitted.status)))
        return connection.respond(admitted.status, admitted.text)

    async def _handle(self, ws: ServerConnection) -> None:
        """One connection, from its handshake to its end: its record, a student's seat, then its channel."""
        assert isinstance(ws, RealtimeConnection) and ws.admission is not None and ws.request is not None
        admission, request = ws.admission, ws.request
        record = self._records.open(
            request.path,
            request.headers.get("Origin"),
            owner=admission.owner or label(request.headers.get("X-Duplexlab-Owner")),
            via=admission.via,
        )
        student = admission.budget.student if admission.budget is not None else None
        try:
            if student is not None and self.seats is not None and (why := self.seats.take(ws, student)):
                await ws.close(1008, why)
                return
            await admission.serve(ws, record)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug must not leave the socket open and silent
            LOGGER.error("%s failed: %s: %s", urlsplit(request.path).path, type(exc).__name__, exc)
            await ws.close(1011, f"internal error ({type(exc).__name__}); see the lab's log")
        finally:
            if student is not None and self.seats is not None:
                self.seats.leave(ws, student)
            await ws.wait_closed()
            self._records.close(record, ws.protocol)


def label(header: str | None) -> str | None:
    """A client's own ``X-Duplexlab-Owner`` label for its record; never one that only a credential gives
    (a browser code widget's, a student's): a program cannot pass for the page's code or a student."""
    if header is None or header.startswith((RUNNER_OWNER, "student:")):
        return None
    return header
