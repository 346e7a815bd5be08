"""A WebSocket server host on an event-loop thread of its own (the ``websockets`` library).

It knows no app: :class:`WebSocketServer` serves any handler, and the lab's
course server (:mod:`duplexlab.apps.realtime`) uses the same logger and
connection gate from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from ..errors import PortInUseError, is_address_in_use
from .hygiene import ConnectionGate, Pass
from .loop import LoopThread
from .owner import shared_owner

if TYPE_CHECKING:
    from websockets.sync.connection import Connection

__all__ = ["LOGGER", "ClosingSocket", "WebSocketServer", "close_server", "gated_connection"]


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


def gated_connection(gate: ConnectionGate) -> type[ServerConnection]:
    """A ``ServerConnection`` class that counts itself at ``gate`` and answers 503 when full."""

    class GatedConnection(ServerConnection):
        _pass: Pass | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            stream = cast(asyncio.Transport, transport)  # a TCP server's transport
            self._pass = gate.admit(stream.get_extra_info("peername"))
            if self._pass is None:
                stream.write(gate.busy_response())
                stream.abort()

        def connection_lost(self, exc: Exception | None) -> None:
            admitted, self._pass = self._pass, None
            if admitted is not None:
                admitted.leave()
            super().connection_lost(exc)

    return GatedConnection


class ClosingSocket:
    """A ``websockets`` sync client connection as an owner closes it: a short handshake, then the socket.

    A sync connection's ``close()`` waits up to its ``close_timeout`` (10 s by
    default) when messages are left unread; the lab's owner closes many at once
    and cuts the socket (``abort``) of any that don't finish within its grace.
    """

    def __init__(self, ws: Connection) -> None:
        self.ws = ws

    @property
    def closed(self) -> bool:
        return self.ws.state is State.CLOSED

    def close(self) -> None:
        self.ws.close_timeout = min(self.ws.close_timeout or 0.2, 0.2)
        self.ws.close(CloseCode.GOING_AWAY, "the lab stopped")

    def abort(self) -> None:
        self.ws.close_socket()


async def close_server(server: Server, *, grace: float = 0.4) -> None:
    """Close a ``websockets`` server fast: every connection's closing handshake at once, then cut.

    ``server.close()`` alone waits up to each connection's ``close_timeout``;
    here connections get ``grace`` seconds in all, then their sockets are aborted.
    """
    server.close(close_connections=False)
    connections = list(server.connections)
    closing = [asyncio.ensure_future(c.close(CloseCode.GOING_AWAY, "the lab stopped")) for c in connections]
    if closing:
        _, pending = await asyncio.wait(closing, timeout=grace)
        for task in pending:
            task.cancel()
    for connection in connections:
        if connection.state is not State.CLOSED and connection.transport is not None:
            connection.transport.abort()
    try:
        await asyncio.wait_for(server.wait_closed(), grace)
    except TimeoutError:
        pass


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

    def __init__(
        self,
        handler: Callable[[ServerConnection], Coroutine[Any, Any, None]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> None:
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
                if is_address_in_use(exc):
                    raise PortInUseError(self.host, self.port) from None
                raise
            self.port = self._server.sockets[0].getsockname()[1]
            shared_owner().own(self)  # dl.stop() closes it too
        return self

    @property
    def closed(self) -> bool:
        return self._server is None

    def close(self) -> None:
        """Close every connection (1001, at once, then cut) and the server's thread. Twice is harmless."""
        shared_owner().release(self)
        server, self._server = self._server, None
        if server is not None and self.loop.running:
            try:
                self.loop.run(close_server(server), 5)
            except TimeoutError:
                pass
        self.loop.close(timeout=1.0)

    def __enter__(self) -> WebSocketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
