"""Two small channels: ``/echo`` sends every message back (for measuring round trips), ``/alive`` only holds a line.

A browser widget keeps ``/alive`` open to notice when the lab stops: the line
ending is the only news it carries.
"""

from __future__ import annotations

from .connection import RealtimeConnection, incoming, send
from .records import ConnectionRecord
from .routes import Serve, Target

__all__ = ["Alive", "Echo"]


class Echo:
    """``/echo``: every message comes back as it was sent."""

    def __init__(self, *, max_size: int) -> None:
        self.max_size = max_size

    def open(self, target: Target) -> Serve:
        return self.serve

    async def serve(self, ws: RealtimeConnection, record: ConnectionRecord) -> None:
        async for message in incoming(ws, record, self.max_size):
            await send(ws, record, message)


class Alive:
    """``/alive``: a line to the lab, open until either end goes; messages on it are counted and dropped."""

    def __init__(self, *, max_size: int) -> None:
        self.max_size = max_size

    def open(self, target: Target) -> Serve:
        return self.serve

    async def serve(self, ws: RealtimeConnection, record: ConnectionRecord) -> None:
        async for _ in incoming(ws, record, self.max_size):
            pass
