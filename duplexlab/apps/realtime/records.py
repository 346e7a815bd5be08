"""What the WebSocket server remembers of each connection, on the lab clock (``time.perf_counter``).

:class:`ConnectionRecord` is one connection as the server saw it; :class:`Records`
keeps every open one and the last ``MAX_RECORDS`` closed ones, so a long-running
lab's memory does not grow with every connection it ever had.
"""

from __future__ import annotations

import collections
import itertools
import time
from dataclasses import dataclass

from websockets.protocol import Protocol

from .messages import size_of

__all__ = ["MAX_RECORDS", "ConnectionRecord", "Records", "close_of"]

MAX_RECORDS = 2_000


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
    bytes_sent: int = 0  # of the messages' payloads (UTF-8), as a dashboard counts push load
    owner: str | None = None  # who holds it: a ticket's widget, or an X-Duplexlab-Owner label
    via: str = "direct"  # how a browser widget's socket came: "direct", "proxy" (the notebook server's) or "bridge"

    @property
    def open(self) -> bool:
        return self.t_close is None

    def count_sent(self, message: str | bytes) -> None:
        """One more message sent on this connection."""
        self.sent += 1
        self.bytes_sent += size_of(message)


def close_of(protocol: Protocol) -> tuple[int, str]:
    """How a connection ended: ``(code, reason)`` of whoever closed first, or 1006 if nobody did (it was cut)."""
    received, sent = protocol.close_rcvd, protocol.close_sent
    if received is not None and (sent is None or protocol.close_rcvd_then_sent):
        return received.code, received.reason  # the client closed
    if sent is not None:  # the lab closed (the code a client echoes may come without its reason)
        return sent.code, sent.reason
    return 1006, ""  # no close frame either way: the connection was cut


class Records:
    """The server's connection records: every open one, and the last ``keep`` closed ones.

    Used on the lab's loop; readers on other threads get lists, never a set that is changing.
    """

    def __init__(self, *, keep: int = MAX_RECORDS) -> None:
        self._ids = itertools.count(1)
        self._open: dict[int, ConnectionRecord] = {}
        self._closed: collections.deque[ConnectionRecord] = collections.deque(maxlen=keep)

    def open(self, path: str, origin: str | None, *, owner: str | None, via: str) -> ConnectionRecord:
        """A new record for a connection that just opened."""
        record = ConnectionRecord(next(self._ids), path, origin, time.perf_counter(), owner=owner, via=via)
        self._open[record.id] = record
        return record

    def close(self, record: ConnectionRecord, protocol: Protocol) -> None:
        """``record``'s connection has closed: note when and how, then keep it among the closed."""
        record.t_close = time.perf_counter()
        record.close_code, record.close_reason = close_of(protocol)
        # Complete before it leaves the open list: a reader on another thread sees it closed, with its code.
        self._open.pop(record.id, None)
        self._closed.append(record)

    def all(self) -> list[ConnectionRecord]:
        """The records, in the order their connections opened: all open ones, and the last closed ones."""
        return sorted([*self._closed, *self._open.values()], key=lambda r: r.id)

    def still_open(self) -> list[ConnectionRecord]:
        """The open connections' records, in the order they opened."""
        return sorted(self._open.values(), key=lambda r: r.id)
