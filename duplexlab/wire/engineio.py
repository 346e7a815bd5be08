"""Engine.IO and Socket.IO packets, read out of captured bytes (lesson 10).

Socket.IO is two protocols in one. **Engine.IO** (version 4) carries packets, first in HTTP
long polls, then in WebSocket frames. Each packet starts with one digit, its type:

====  ========  ==========================================================
 0    open      the server's first packet: ``0{"sid": …, "pingInterval": …}``
 1    close     the transport is closing
 2    ping      "are you there?" (in Engine.IO 4 the *server* pings), or ``2probe``
 3    pong      the answer to a ping, or ``3probe``
 4    message   carries one Socket.IO packet
 5    upgrade   "from now on, only the WebSocket"
 6    noop      "nothing": ends a poll that must not wait any longer
====  ========  ==========================================================

In a long poll's body, several packets are joined by the byte ``0x1e`` (record separator).
A **Socket.IO** packet rides inside an Engine.IO message (``4``): a digit for its type
(``0`` CONNECT, ``1`` DISCONNECT, ``2`` EVENT, ``3`` ACK, ``4`` CONNECT_ERROR, ``5``/``6``
binary), then ``/namespace,`` unless it is ``/``, then an acknowledgement id, then JSON.
So ``42/chat,7["chat",{"text":"hi"}]`` is an event on ``/chat`` that asks for
acknowledgement 7, and ``43/chat,7[{"ok":true}]`` is that acknowledgement.

:func:`packets` finds every packet of a :class:`~duplexlab.wire.capture.Capture` in the order
it crossed; :func:`table` prints them one per line. Pure decoding: no sockets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .capture import Capture, Direction, HTTPMessage

__all__ = ["ENGINE_TYPES", "SOCKET_TYPES", "Packet", "kinds", "packets", "parse", "split_payload", "table"]

ENGINE_TYPES = {"0": "open", "1": "close", "2": "ping", "3": "pong", "4": "message", "5": "upgrade", "6": "noop"}
SOCKET_TYPES = {
    "0": "CONNECT",
    "1": "DISCONNECT",
    "2": "EVENT",
    "3": "ACK",
    "4": "CONNECT_ERROR",
    "5": "BINARY_EVENT",
    "6": "BINARY_ACK",
}
SEPARATOR = "\x1e"  # between packets in one long poll's body
PATH = "/socket.io/"
ACK_ID = re.compile(r"[0-9]*")


@dataclass(frozen=True)
class Packet:
    """One Engine.IO packet as it crossed, and the Socket.IO packet inside it, if any.

    ``transport`` is ``"polling"`` (in an HTTP body) or ``"websocket"`` (a frame's payload);
    ``text`` the packet exactly as sent; ``kind`` a short name such as ``open``, ``ping``,
    ``2probe``, ``CONNECT`` or ``EVENT chat`` (what the lesson's table and tests compare).
    """

    t: float
    conn: int
    direction: Direction
    transport: str
    text: str
    engine: str  # open, close, ping, pong, message, upgrade, noop, or "?" for what is not a packet
    socket: str | None = None  # CONNECT, EVENT, ACK ... (inside a message)
    namespace: str = "/"
    ack: int | None = None
    data: object = None  # the JSON after the header (an event's [name, args...], the open's settings)

    @property
    def up(self) -> bool:
        return self.direction is Direction.UP

    @property
    def kind(self) -> str:
        if self.text in ("2probe", "3probe"):
            return self.text
        if self.socket is None:
            return self.engine
        if self.socket in ("EVENT", "BINARY_EVENT") and isinstance(self.data, list) and self.data:
            return f"{self.socket} {self.data[0]}"
        return self.socket

    def meaning(self) -> str:
        """What the packet says, in a few words."""
        if self.text == "2probe":
            return "probe: does a WebSocket work?"
        if self.text == "3probe":
            return "probe answered: it works"
        if self.engine == "open":
            settings = self.data if isinstance(self.data, dict) else {}
            offered = settings.get("upgrades")
            upgrade = "" if offered is None else ", upgrade to " + (", ".join(offered) if offered else "nothing")
            every = settings.get("pingInterval")
            ping = f", ping every {every / 1000:g} s" if isinstance(every, int | float) else ""
            return f"open: session {str(settings.get('sid', '?'))[:4]}…{ping}{upgrade}"
        if self.engine == "upgrade":
            return "upgrade: the WebSocket from now on"
        if self.engine == "ping":
            return "ping (from the server)" if not self.up else "ping"
        if self.engine == "pong":
            return "pong (from the client)" if self.up else "pong"
        if self.engine == "noop":
            return "noop: ends a waiting poll" if self.transport == "polling" else "noop: the upgrade is done"
        if self.engine == "close":
            return "close"
        if self.socket is None:
            return "not an Engine.IO packet" if self.engine == "?" else self.engine
        where = "" if self.namespace == "/" else f" on {self.namespace}"
        if self.socket == "CONNECT":
            return f"{'join' if self.up else 'joined'}{where}" + ("" if self.up else ", its own id")
        if self.socket in ("EVENT", "BINARY_EVENT"):
            asks = f", asks for ack {self.ack}" if self.ack is not None else ""
            name = self.data[0] if isinstance(self.data, list) and self.data else "?"
            return f"event {name!r}{where}{asks}"
        if self.socket in ("ACK", "BINARY_ACK"):
            return f"ack {self.ack}{where}"
        return f"{self.socket.lower()}{where}"


def _json(text: str) -> object:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def parse(
    text: str, *, t: float = 0.0, conn: int = 0, direction: Direction = Direction.DOWN, transport: str = ""
) -> Packet:
    """One Engine.IO packet (with the Socket.IO packet inside a message) from its text."""

    def packet(engine: str, **inside: Any) -> Packet:
        return Packet(t, conn, direction, transport, text, engine, **inside)

    engine = ENGINE_TYPES.get(text[:1], "?")
    if engine != "message":
        return packet(engine, data=_json(text[1:]) if engine == "open" else text[1:] or None)
    body = text[1:]
    socket = SOCKET_TYPES.get(body[:1])
    if socket is None:
        return packet(engine, data=body)
    rest = body[1:]
    if socket.startswith("BINARY") and "-" in rest[:4]:  # the count of binary attachments
        rest = rest.split("-", 1)[1]
    namespace = "/"
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    match = ACK_ID.match(rest)
    digits = match.group(0) if match else ""
    ack = int(digits) if digits else None
    return packet(engine, socket=socket, namespace=namespace, ack=ack, data=_json(rest[len(digits) :]))


def split_payload(body: bytes) -> list[str]:
    """The packets of one long poll's body (text packets joined by ``0x1e``)."""
    text = body.decode("utf-8", errors="replace")
    return [part for part in text.split(SEPARATOR) if part]


def _is_engine_io(message: HTTPMessage) -> bool:
    return urlsplit(message.start_line.split(" ")[1] if message.is_request else "").path.startswith(PATH)


def _polling(messages: list[HTTPMessage], conn: int) -> Iterable[Packet]:
    """Packets in one connection's long polls: a POST's body goes up, a GET's answer comes down.

    Requests on one HTTP/1.1 connection are answered in order, so the n-th response answers the
    n-th request; a POST's answer (``ok``) carries no packet.
    """
    requests = [m for m in messages if m.is_request]
    responses = [m for m in messages if not m.is_request]
    for request, response in zip(requests, responses + [None] * (len(requests) - len(responses)), strict=True):
        if not _is_engine_io(request):
            continue
        query = parse_qs(urlsplit(request.start_line.split(" ")[1]).query)
        if query.get("transport", ["polling"])[0] != "polling":
            continue  # the upgrade's handshake: its packets are frames
        if request.method == "POST":
            for text in split_payload(request.body):
                yield parse(text, t=request.t, conn=conn, direction=Direction.UP, transport="polling")
        elif response is not None and response.status == 200 and response.complete:
            for text in split_payload(response.body):
                yield parse(text, t=response.t, conn=conn, direction=Direction.DOWN, transport="polling")


def packets(capture: Capture) -> list[Packet]:
    """Every Engine.IO packet in ``capture``, in the order it crossed (long polls and frames)."""
    found: list[Packet] = []
    engine_io = set()  # connections that asked for /socket.io/ (their frames are Engine.IO's)
    for conn in capture.connections():
        messages = capture.http_messages(conn)
        if any(m.is_request and _is_engine_io(m) for m in messages):
            engine_io.add(conn)
            found.extend(_polling(messages, conn))
    for frame in capture.ws_frames():
        if frame.opcode != "TEXT" or frame.conn not in engine_io:
            continue  # a binary attachment or a close (no packet of its own), or another server's frame
        text = frame.payload.decode("utf-8", errors="replace")
        found.append(parse(text, t=frame.t, conn=frame.conn, direction=frame.direction, transport="websocket"))
    found.sort(key=lambda p: p.t)
    return found


def kinds(found: Iterable[Packet]) -> list[str]:
    """The packets' kinds in order, e.g. ``["open", "CONNECT", "CONNECT", "2probe", …]``."""
    return [p.kind for p in found]


def table(found: Iterable[Packet] | Capture, *, width: int = 30, newest: bool = True) -> str:
    """One line per packet: the way it went, the transport, the packet's text and what it means.

    ``newest``: only the newest session (from the last open packet on), with a line saying how many
    earlier ones are left out. After the first ping and pong, a run of pings and pongs is one line.
    """
    items = packets(found) if isinstance(found, Capture) else list(found)
    lines = [f"  {'how':5}{'packet (as sent)':{width}}  means"]
    opens = [i for i, p in enumerate(items) if p.kind == "open"]
    if newest and len(opens) > 1:
        lines.append(f"  ({len(opens) - 1} earlier session(s) left out: this is the newest)")
        items = items[opens[-1] :]
    heartbeat = 0  # pings and pongs in a row, after the first pair
    for i, p in enumerate(items):
        if p.kind in ("ping", "pong"):
            heartbeat += 1
            if heartbeat > 2:
                if i + 1 == len(items) or items[i + 1].kind not in ("ping", "pong"):
                    lines.append(f"  {'':5}{'2, 3, 2, 3 …':{width}}  {heartbeat - 2} more pings and pongs")
                continue
        else:
            heartbeat = 0
        arrow = "→" if p.up else "←"
        how = "poll" if p.transport == "polling" else "ws"
        text = p.text if len(p.text) <= width else p.text[: width - 1] + "…"
        lines.append(f"{arrow} {how:5}{text:{width}}  {p.meaning()}")
    return "\n".join(lines)
