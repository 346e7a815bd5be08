"""``/chat?name=asha``: a chat room where everyone gets every message, and who is online.

Names are unique in the room (a second asha is asha-2, and is told so). In a
classroom a student chats under their seat's name, whatever ``name=`` says.
Each connection may send ``CHAT_RATE`` messages a second (1008 beyond).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import json
import time
from dataclasses import dataclass, field

from ..notifications import valid_user
from .connection import RealtimeConnection, fan_out, incoming, send
from .messages import error, parse_message
from .records import ConnectionRecord
from .routes import Serve, Target

__all__ = ["CHAT_RATE", "Chat", "Room"]

CHAT_RATE = 20  # messages per second per connection


@dataclass
class Room:
    """Who is in the chat room, by connection, and its last messages."""

    members: dict[RealtimeConnection, str] = field(default_factory=dict)
    records: dict[RealtimeConnection, ConnectionRecord] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=50))  # (from, text)

    def online(self) -> list[str]:
        return sorted(set(self.members.values()))

    def broadcast(self, message: str, *, besides: RealtimeConnection | None = None) -> None:
        """Send ``message`` to every member (but ``besides``) that keeps up, and count it on their records."""
        fan_out(message, {ws: record for ws, record in self.records.items() if ws is not besides})


class Chat:
    """The ``/chat`` channel: one room for every connection to it."""

    def __init__(self, *, max_size: int) -> None:
        self.room = Room()
        self.max_size = max_size

    def open(self, target: Target) -> Serve:
        """The chat under the asked name; a classroom student's is their seat's, whatever ``name=`` says."""
        asked = target.arg("name", "")
        if target.seat is not None:
            return functools.partial(self.serve, name=target.seat, asked=asked, seat=True)
        try:
            valid_user(asked)
        except ValueError as exc:
            raise ValueError(f"{exc}; connect to /chat?name=asha") from None
        return functools.partial(self.serve, name=asked, asked=asked)

    async def serve(
        self, ws: RealtimeConnection, record: ConnectionRecord, *, name: str, asked: str = "", seat: bool = False
    ) -> None:
        """Chat as ``name``; ``seat``: a classroom student, who is ``name`` (their seat's) in every socket."""
        room = self.room
        wanted, taken, n = name, set(room.members.values()), 1
        while name in taken and not seat:  # names are unique in the room: a second asha is asha-2
            n += 1
            name = f"{wanted[:29]}-{n}"
        room.members[ws], room.records[ws] = name, record
        try:
            welcome = {"type": "welcome", "you": name, "online": room.online()}
            if seat and asked != name:
                told = f", not {asked}" if asked else ""
                welcome["renamed"] = f"in a classroom you chat under your seat's name: you are {name}{told}"
            elif name != wanted:
                welcome["renamed"] = f"{wanted} is already in the room; you are {name}"
            await send(ws, record, json.dumps(welcome))
            room.broadcast(json.dumps({"type": "presence", "joined": name, "online": room.online()}), besides=ws)
            await self.talk(ws, record, name)
        finally:
            room.members.pop(ws, None)
            room.records.pop(ws, None)
            room.broadcast(json.dumps({"type": "presence", "left": name, "online": room.online()}))

    async def talk(self, ws: RealtimeConnection, record: ConnectionRecord, name: str) -> None:
        """Pass each of ``name``'s messages to the room, at most ``CHAT_RATE`` a second (1008 beyond)."""
        room, window = self.room, collections.deque[float]()
        async for raw in incoming(ws, record, self.max_size):
            now = time.perf_counter()
            window.append(now)
            while window and now - window[0] > 1.0:
                window.popleft()
            if len(window) > CHAT_RATE:
                closing = asyncio.get_running_loop().create_task(
                    ws.close(1008, f"rate limit: more than {CHAT_RATE} messages a second")
                )
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
                await send(ws, record, error(str(exc), 'send {"type": "message", "text": "hi"}'))
                continue
            out = json.dumps(
                {"type": "message", "id": next(room.ids), "from": name, "text": text, "t": time.perf_counter()}
            )
            room.recent.append((name, text))
            room.broadcast(out)
