"""The server's side of one WebSocket, and the read loop and fan-out every channel shares.

:class:`RealtimeConnection` is websockets' ``ServerConnection`` keeping the
:class:`~duplexlab.apps.realtime.admission.Admission` its handshake earned (who,
which channel, which seat). Its ``recv`` applies two rules to every message:

- a socket that came through the notebook server's proxy may ask to be closed
  (:func:`~duplexlab.apps.realtime.messages.close_request`);
- a classroom student's socket spends each message from the student's one
  budget, across all their sockets (1008 and the reason past it).

:func:`incoming` is the one read loop (count each message, close with 1009 past
the size limit) and :func:`fan_out` the one fan-out (one message to many sockets,
letting go of those that do not read).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Literal, cast, overload

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.typing import Data

from ...runtime.hygiene import ConnectionGate
from ...runtime.websocket import gated_connection
from .messages import close_request, size_of
from .records import ConnectionRecord

if TYPE_CHECKING:
    from .admission import Admission

__all__ = ["SLOW_READER", "RealtimeConnection", "connection_type", "fan_out", "incoming", "send"]

SLOW_READER = 1024 * 1024  # bytes waiting in a socket's write buffer before it is let go


class RealtimeConnection(ServerConnection):
    """One WebSocket on the lab's server, with the admission its handshake earned."""

    admission: Admission | None = None  # set during the handshake; every connection that opens has one
    let_go = False  # closed (1013) for reading too slowly

    @property
    def owner(self) -> str | None:
        """Whose credential opened it: a ticket's owner, or ``student:<name>``; None for a plain client."""
        return self.admission.owner if self.admission is not None else None

    @overload
    async def recv(self, decode: Literal[True]) -> str: ...

    @overload
    async def recv(self, decode: Literal[False]) -> bytes: ...

    @overload
    async def recv(self, decode: bool | None = None) -> Data: ...

    async def recv(self, decode: bool | None = None) -> Data:
        message = await super().recv(decode)
        admission = self.admission
        if admission is None:
            return message
        if admission.via == "proxy" and (close := close_request(message)):
            await self.close(*close)
            return await super().recv(decode)  # raises ConnectionClosedOK: the handler ends as on a close
        if admission.budget is not None and (why := admission.budget.spend(size_of(message))):
            closing = asyncio.ensure_future(self.close(1008, why))
            try:
                while True:  # drop what is already on its way, so the client's close frame is read
                    await super().recv(decode)
            finally:  # the loop ends with ConnectionClosed: the handler ends as on a close
                await closing
        return message

    def keeps_up(self) -> bool:
        """False if over ``SLOW_READER`` bytes wait unsent; such a socket is closed (1013), once."""
        transport = self.transport
        if transport is None or transport.get_write_buffer_size() <= SLOW_READER:
            return True
        if not self.let_go:
            self.let_go = True
            asyncio.get_running_loop().create_task(self.close(1013, "you read too slowly; reconnect and catch up"))
        return False


def connection_type(gate: ConnectionGate) -> type[RealtimeConnection]:
    """``serve``'s ``create_connection``: :class:`RealtimeConnection`, counted at ``gate`` (503 when full)."""
    bases = (RealtimeConnection, gated_connection(gate))
    return cast("type[RealtimeConnection]", type("RealtimeConnection", bases, {}))


async def incoming(ws: ServerConnection, record: ConnectionRecord, max_size: int) -> AsyncIterator[Data]:
    """Each message ``ws`` receives, counted on ``record``, until it closes.

    A message over ``max_size`` bytes closes that connection with 1009 and ends
    the loop; the server goes on serving the others.
    """
    async for message in ws:
        record.received += 1
        size = size_of(message)
        if size > max_size:
            await ws.close(1009, f"a message of {size} bytes; the limit is {max_size}")
            return
        yield message


async def send(ws: ServerConnection, record: ConnectionRecord, message: Data) -> None:
    """Send ``message`` on ``ws`` and count it on its record."""
    await ws.send(message)
    record.count_sent(message)


def fan_out(message: str, to: Mapping[RealtimeConnection, ConnectionRecord]) -> None:
    """Send ``message`` to each socket of ``to`` that keeps up, and count it on its record.

    One serialization, no task switch per socket. ``broadcast`` has no
    backpressure: without :meth:`RealtimeConnection.keeps_up`, a client that
    never reads would make the lab hold every message for it in memory.
    """
    readers = [ws for ws in to if ws.keeps_up()]
    broadcast(readers, message)
    for ws in readers:
        to[ws].count_sent(message)
