"""A conversation as a sequence of arrows, decoded as the bytes arrive. No sockets here.

The tap hands every chunk it carries to watchers; :class:`FlowDecoder` turns
those chunks, fed one at a time, into *flow events*: one per HTTP request,
HTTP response, server-sent event and WebSocket frame, plus marks for a side
that closes and for the faults a tap plays (a cut, a silenced path, a dropped
server side, bytes swallowed by a dead path). It is incremental (each byte is
parsed once, whatever the length of the conversation), so a diagram can follow
a busy connection live. HTTP is parsed with h11 and frames with the
``websockets`` library's Sans-I/O parser, as in :mod:`duplexlab.wire.capture`.

A flow event is a plain ``dict`` (it travels to the browser as JSON), typed as
:class:`FlowEvent`::

    {"id": 7, "t": 0.0123, "lane": "1", "dir": "up", "kind": "request",
     "label": "GET /api/health", "bytes": 96, "head": 96, "body": 0,
     "done": True, "detail": "GET /api/health HTTP/1.1\\r\\nHost: …"}

``t`` is seconds since the decoder's ``t0``; ``lane`` names the connection;
``dir`` is ``"up"`` (client → server), ``"down"`` or ``""`` for a mark.
``bytes`` is the size on the wire, ``head`` the header's share (HTTP start
line and headers; a frame's 2–14 header bytes) and ``body`` the rest. An
event may come back later with the same ``id`` and more filled in (a response
whose body was still arriving, ``done`` False until it ends): whoever keeps
events replaces the old one. A response carries ``req`` (its request's id) and
``t_end`` (when it ended); a server-sent event carries ``in`` (its response's id).
A request whose answer is not there yet is *held* (a diagram draws it as an open
span); one marked ``lost`` had its answer in bytes the decoder never saw.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

import h11

from .capture import Chunk, Direction, decode_frames, hidden, show_bytes
from .sse import EventParser
from .sse import encode as sse_encode

__all__ = [
    "ARROW_KINDS",
    "FlowDecoder",
    "FlowEvent",
    "MACHINERY",
    "MARK_KINDS",
    "Note",
    "body_hint",
    "frame_label",
]

ARROW_KINDS = ("request", "response", "sse", "frame", "data", "swallowed")
MARK_KINDS = ("end", "cut", "silence", "drop", "lost")

PREVIEW = 600  # bytes of a body or payload kept for the detail view
MAX_FRAME_BUFFER = 16 * 1024 * 1024  # past this, what follows an upgrade is shown as bytes, not frames

MARK_LABELS = {
    "cut": "✂ cut: both ends see a reset",
    "silence": "⋯ path silenced: nothing passes, nobody is told",
    "drop": "✕ server side dropped; the client's side stays open",
    "lost": "⚠ not drawn from here on: bytes came faster than the diagram could keep",
}

FlowEvent = TypedDict(  # the functional form: one key is ``in``, a Python keyword
    "FlowEvent",
    {
        "id": int,
        "t": float,  # seconds since the decoder's t0
        "lane": str,  # the connection ("3", or "2.3" with a lane prefix)
        "dir": str,  # "up" (client → server), "down", or "" for a mark
        "kind": str,  # one of ARROW_KINDS or MARK_KINDS
        "label": str,
        "bytes": int,  # the size on the wire
        "head": int,  # the header's share of it
        "body": int,  # the rest
        "done": bool,  # False while a message is still arriving
        "detail": str,  # its bytes, shown on hover
        "method": NotRequired[str],  # a request's
        "upgrade": NotRequired[str],  # a request's Upgrade header
        "req": NotRequired[int],  # a response's request's id
        "stream": NotRequired[bool],  # a response that is an event stream
        "t_end": NotRequired[float],  # when a message ended
        "hint": NotRequired[str],  # a glance at a small response body (body_hint)
        "in": NotRequired[int],  # a server-sent event's response's id
        "opcode": NotRequired[str],  # a frame's
        "cut": NotRequired[bool],  # a message that did not end whole
        "lost": NotRequired[bool],  # a request whose answer was in bytes not decoded
        "machinery": NotRequired[bool],  # the course's own plumbing (MACHINERY), not the student's
    },
)


@dataclass(frozen=True)
class Note:
    """What a tap did to a connection rather than carried: ``cut``, ``silence``, ``drop`` or
    ``swallowed`` (``dropped`` bytes going ``direction`` that a dead path ate)."""

    t: float
    conn: int
    kind: str
    dropped: int = 0
    direction: Direction | None = None


def frame_label(opcode: str, length: int, *, masked: bool, close_code: int | None = None, reason: str = "") -> str:
    """How an arrow names a frame: ``TEXT 23 B masked``, ``CLOSE 1000 'bye'``."""
    if opcode == "CLOSE":
        what = f"CLOSE {close_code}" + (f" {reason!r}" if reason else "") if close_code else "CLOSE (no code)"
    else:
        what = f"{opcode} {length} B"
    return what + (" masked" if masked else "")


def body_hint(preview: bytes, size: int) -> str:
    """A glance at a small body: a JSON object's ``status`` if it has one, else its first characters."""
    if not preview or size > len(preview):
        return ""
    text = preview.decode("utf-8", "replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("status"), str | int):
        return f"status: {value['status']}"
    return text[:28] + ("…" if len(text) > 28 else "")


def _once(out: list[FlowEvent], event: FlowEvent) -> None:
    """Add ``event`` to what a feed returns, unless it is already there (an update of it)."""
    if not any(e is event for e in out):
        out.append(event)


MACHINERY = "/_duplexlab/"  # requests under this path are the course's own (the browser code runner)


def message_detail(head_text: str, preview: bytes, body_size: int) -> str:
    """What a message's hover shows: its header as sent (cookie values hidden), then the start of its body."""
    detail = "--- header ---\n" + show_bytes(head_text.encode("latin-1", "replace")) + "\\r\\n"
    if body_size:
        more = f"\n… (+{body_size - len(preview)} bytes)" if body_size > len(preview) else ""
        detail += "\n--- body ---\n" + preview.decode("utf-8", "replace") + more
    return detail


@dataclass
class _Side:
    """One direction of one connection: an h11 parser for HTTP, then a frame buffer after an upgrade."""

    direction: Direction
    mode: str = "http"  # http | wait (an upgrade asked, not yet answered) | frames | raw | lost
    parser: h11.Connection | None = None
    fed: int = 0  # bytes fed to the current parser
    start: int = 0  # where the current message began, in ``fed``
    message: FlowEvent | None = None
    body_preview: bytes = b""
    sse: EventParser | None = None
    buffer: bytes = b""  # bytes waiting: after an upgrade, or before a request is known
    buffer_t: float = 0.0
    closed: bool = False
    first: bytes = b""  # the first bytes of the current message (to show them if they are not HTTP)

    def hold(self, data: bytes, t: float) -> None:
        """Keep ``data`` until it can be read (``buffer_t``: when its first byte came)."""
        if not self.buffer:
            self.buffer_t = t
        self.buffer += data

    def consumed(self) -> int:
        """Bytes the current parser has read (fed, less what it has not looked at yet)."""
        assert self.parser is not None
        return self.fed - len(self.parser.trailing_data[0])


@dataclass
class _Conn:
    lane: str
    up: _Side = field(default_factory=lambda: _Side(Direction.UP))
    down: _Side = field(default_factory=lambda: _Side(Direction.DOWN))
    pending: list[FlowEvent] = field(default_factory=list)  # requests still waiting for their response


class _Stamp:
    """Makes flow events: the next id, and moments on the decoder's clock (seconds since ``t0``)."""

    def __init__(self, t0: float, ids: Iterator[int]) -> None:
        self.t0 = t0
        self.ids = ids

    def clock(self, t: float) -> float:
        """``t`` (a ``time.perf_counter()`` value) on the decoder's clock."""
        return round(t - self.t0, 6)

    def event(self, t: float, lane: str, direction: str, kind: str, label: str, size: int, head: int) -> FlowEvent:
        return {
            "id": next(self.ids),
            "t": self.clock(t),
            "lane": lane,
            "dir": direction,
            "kind": kind,
            "label": label,
            "bytes": size,
            "head": head,
            "body": size - head,
            "done": True,
            "detail": "",
        }


class _Http:
    """The HTTP side of every connection, read with h11: requests, responses and their bodies, the
    events of an event stream, and the switch after a ``101`` (from then on ``frames`` reads both
    directions). Bytes that are not HTTP go to ``raw``."""

    def __init__(
        self,
        stamp: _Stamp,
        frames: Callable[[_Conn, _Side, bytes, float, list[FlowEvent]], None],
        raw: Callable[[_Conn, _Side, bytes, float], FlowEvent],
    ) -> None:
        self.stamp = stamp
        self.frames = frames
        self.raw = raw

    def _new_parser(self, conn: _Conn, side: _Side) -> bool:
        """Start parsing the next message on ``side``; False while a response has no request to answer."""
        if side.direction is Direction.UP:
            side.parser = h11.Connection(h11.SERVER)
        else:
            if not conn.pending:
                side.parser = None
                return False
            request = conn.pending[0]
            parser = h11.Connection(h11.CLIENT)
            headers = [("Host", "tap")]
            if request.get("upgrade"):
                headers += [("Connection", "upgrade"), ("Upgrade", request["upgrade"])]
            parser.send(h11.Request(method=request["method"], target="/", headers=headers))
            parser.send(h11.EndOfMessage())
            side.parser = parser
        side.fed = side.start = 0
        side.message, side.body_preview, side.sse, side.first = None, b"", None, b""
        return True

    def feed(self, conn: _Conn, side: _Side, data: bytes, t: float, out: list[FlowEvent]) -> None:
        """Read ``data``, the next bytes ``side`` sent while it speaks HTTP."""
        if side.parser is None and not self._new_parser(conn, side):
            side.hold(data, t)  # a response before its request: wait for the request
            return
        if side.message is None and side.fed == side.start and not side.buffer:
            side.buffer_t = t  # the first byte of the next message
        assert side.parser is not None
        if len(side.first) < PREVIEW:
            side.first += data[: PREVIEW - len(side.first)]
        side.parser.receive_data(data)
        side.fed += len(data)
        self.drain(conn, side, t, out)

    def drain(self, conn: _Conn, side: _Side, t: float, out: list[FlowEvent]) -> None:
        """Read every h11 event the bytes so far complete."""
        while side.parser is not None:
            try:
                event = side.parser.next_event()
            except h11.RemoteProtocolError:
                broken = side.fed - side.start
                side.mode, side.parser = "raw", None
                if side.message is not None:  # a message that went wrong half-way: keep what it was
                    why = (
                        (" (stream closed)" if side.message.get("stream") else " (cut short)")
                        if side.closed
                        else (" (then not HTTP)")
                    )
                    side.message.update(
                        {
                            "done": True,
                            "cut": True,
                            "label": side.message["label"] + why,
                            "t_end": self.stamp.clock(t),
                        }
                    )
                    out.append(side.message)
                elif broken:
                    raw = self.raw(conn, side, side.first, t)
                    raw.update({"bytes": broken, "body": broken, "label": f"{broken} B (not HTTP)"})
                    out.append(raw)
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if event is h11.PAUSED:
                    self._paused(conn, side, t, out)
                return
            if isinstance(event, h11.Request):
                self._request(conn, side, event, out)
            elif isinstance(event, (h11.Response, h11.InformationalResponse)):
                self._response(conn, side, event, out)
                if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                    self._switch(conn, side, t, out)
                    return
            elif isinstance(event, h11.Data):
                self._data(side, bytes(event.data), t, out)
            elif isinstance(event, h11.EndOfMessage):
                self._ended(conn, side, t, out)
            elif isinstance(event, h11.ConnectionClosed):
                return

    def _head(self, side: _Side, start_line: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
        size = side.consumed() - side.start
        lines = ((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers)
        return size, start_line + "\r\n" + "".join(f"{k}: {hidden(k, v)}\r\n" for k, v in lines)

    def _request(self, conn: _Conn, side: _Side, head: h11.Request, out: list[FlowEvent]) -> None:
        method, target = head.method.decode("latin-1"), head.target.decode("latin-1")
        size, text = self._head(side, f"{method} {target} HTTP/{head.http_version.decode()}", head.headers.raw_items())
        event = self.stamp.event(side.buffer_t, conn.lane, "up", "request", f"{method} {target}", size, size)
        upgrade = None
        for name, value in head.headers.raw_items():
            if name.lower() == b"upgrade":
                upgrade = value.decode("latin-1")
        event.update({"done": False, "detail": text, "method": method})
        if target.startswith(MACHINERY):
            event["machinery"] = True
        if upgrade:
            event["upgrade"] = upgrade
        side.message = event
        conn.pending.append(event)
        out.append(event)

    def _response(
        self, conn: _Conn, side: _Side, head: h11.Response | h11.InformationalResponse, out: list[FlowEvent]
    ) -> None:
        reason = head.reason.decode("latin-1")
        start = f"HTTP/{head.http_version.decode()} {head.status_code} {reason}".rstrip()
        size, text = self._head(side, start, head.headers.raw_items())
        event = self.stamp.event(
            side.buffer_t, conn.lane, "down", "response", f"{head.status_code} {reason}".strip(), size, size
        )
        request = conn.pending[0] if conn.pending else None
        event.update({"done": False, "detail": text})
        if request is not None:
            event["req"] = request["id"]
            if request.get("machinery"):
                event["machinery"] = True
        for name, value in head.headers.raw_items():
            if name.lower() == b"content-type" and value.split(b";")[0].strip().lower() == b"text/event-stream":
                side.sse = EventParser()
                event["stream"] = True
        if isinstance(head, h11.InformationalResponse):
            event.update({"done": True, "t_end": event["t"]})
            if head.status_code != 101:  # 100 Continue: the final response follows on the same parser
                out.append(event)
                return
        side.message = event
        out.append(event)

    def _data(self, side: _Side, data: bytes, t: float, out: list[FlowEvent]) -> None:
        message = side.message
        if message is None:
            return
        size = side.consumed() - side.start
        message["bytes"], message["body"] = size, size - message["head"]
        if len(side.body_preview) < PREVIEW:
            side.body_preview += data[: PREVIEW - len(side.body_preview)]
        if side.sse is not None:
            for sse in side.sse.feed(data):
                raw = sse_encode(sse.data, event=None if sse.event == "message" else sse.event, id=sse.id or None)
                label = f"event: {sse.event}" + (f" · id {sse.id}" if sse.id else "")
                event = self.stamp.event(t, message["lane"], "down", "sse", label, len(raw), 0)
                event.update({"detail": "--- event (in the response's body) ---\n" + raw.decode("utf-8", "replace")})
                event["in"] = message["id"]
                out.append(event)
        _once(out, message)

    def _ended(self, conn: _Conn, side: _Side, t: float, out: list[FlowEvent]) -> None:
        message = side.message
        assert side.parser is not None
        rest = bytes(side.parser.trailing_data[0])
        if message is not None:
            size = side.consumed() - side.start
            message.update({"bytes": size, "body": size - message["head"], "done": True, "t_end": self.stamp.clock(t)})
            message["detail"] = message_detail(message["detail"], side.body_preview, message["body"])
            if message["kind"] == "response" and not message.get("stream"):
                hint = body_hint(side.body_preview, message["body"])
                if hint:
                    message["hint"] = hint
            _once(out, message)
        if side.direction is Direction.DOWN and conn.pending:
            conn.pending.pop(0)
            if conn.up.mode == "wait":  # the upgrade was refused: the client may send HTTP again
                conn.up.mode = "http"
                if conn.up.buffer:
                    self._release(conn, conn.up, t, out)
        if side.direction is Direction.UP and message is not None and message.get("upgrade"):
            side.mode, side.parser, side.message = "wait", None, None
            side.hold(rest, t)
            return
        side.parser = None
        if self._new_parser(conn, side):
            if rest:
                side.buffer_t = t
                assert side.parser is not None
                side.parser.receive_data(rest)
                side.fed += len(rest)
                side.first = rest[:PREVIEW]
        elif rest:
            side.hold(rest, t)
        if (
            side.direction is Direction.UP
            and conn.down.parser is None
            and conn.down.buffer
            and conn.down.mode == "http"
        ):
            self._release(conn, conn.down, t, out)  # a response that came before we knew its request

    def _paused(self, conn: _Conn, side: _Side, t: float, out: list[FlowEvent]) -> None:
        """h11 stops after a message it can't go past on its own (an upgrade asked for)."""
        if side.message is not None and not side.message["done"]:
            self._ended(conn, side, t, out)

    def _switch(self, conn: _Conn, side: _Side, t: float, out: list[FlowEvent]) -> None:
        """A 101 came down: both directions carry WebSocket frames from here on."""
        assert side.parser is not None
        rest = bytes(side.parser.trailing_data[0])
        message = side.message
        if message is not None:
            message.update({"done": True, "t_end": message["t"]})
            message["detail"] = message_detail(message["detail"], b"", 0)
            _once(out, message)
        conn.pending.clear()
        up = conn.up
        held, up.mode, up.buffer = up.buffer, "frames", b""
        if held:  # what the client sent right behind its request came first
            self.frames(conn, up, held, up.buffer_t, out)
        side.mode, side.parser, side.message = "frames", None, None
        side.buffer, side.buffer_t = b"", t
        if rest:
            self.frames(conn, side, rest, t, out)

    def _release(self, conn: _Conn, side: _Side, t: float, out: list[FlowEvent]) -> None:
        held, side.buffer = side.buffer, b""
        self.feed(conn, side, held, side.buffer_t, out)


class FlowDecoder:
    """Turns a tap's chunks, fed in order, into flow events (see the module docstring).

    Args:
        t0: the moment that counts as ``t == 0`` (a ``time.perf_counter()`` value).
        lane_prefix: put before each connection number, to keep several taps apart.
        ids: where event ids come from (share one between decoders that feed one view).

    Example::

        decoder = FlowDecoder(t0=time.perf_counter())
        for chunk in tap.capture().chunks:
            for event in decoder.feed(chunk):
                print(event["label"])
    """

    def __init__(self, *, t0: float, lane_prefix: str = "", ids: Iterator[int] | None = None) -> None:
        self.lane_prefix = lane_prefix
        self._stamp = _Stamp(t0, ids if ids is not None else itertools.count(1))
        self._http = _Http(self._stamp, self._frames, self._raw)
        self._conns: dict[int, _Conn] = {}

    @property
    def t0(self) -> float:
        """The moment that counts as ``t == 0``; it may be moved before the first chunk is fed."""
        return self._stamp.t0

    @t0.setter
    def t0(self, value: float) -> None:
        self._stamp.t0 = value

    # -- input -----------------------------------------------------------------

    def feed(self, chunk: Chunk | Note) -> list[FlowEvent]:
        """The events that ``chunk`` starts, completes or changes, in order."""
        if isinstance(chunk, Note):
            return [self.note(chunk.t, chunk.conn, chunk.kind, dropped=chunk.dropped, direction=chunk.direction)]
        conn = self._conn(chunk.conn)
        side = conn.up if chunk.direction is Direction.UP else conn.down
        out: list[FlowEvent] = []
        if not chunk.data:
            self._closed(conn, side, chunk.t, out)
        elif side.mode == "http":
            self._http.feed(conn, side, chunk.data, chunk.t, out)
        elif side.mode == "frames":
            self._frames(conn, side, chunk.data, chunk.t, out)
        elif side.mode == "wait":
            side.hold(chunk.data, chunk.t)
        elif side.mode == "lost":
            pass  # bytes missed before these: decoding them would draw nonsense
        else:
            out.append(self._raw(conn, side, chunk.data, chunk.t))
        if conn.up.closed and conn.down.closed:
            self._conns.pop(chunk.conn, None)
        return out

    def note(
        self, t: float, conn: int, kind: str, *, dropped: int = 0, direction: Direction | None = None
    ) -> FlowEvent:
        """A fault the tap played on connection ``conn``: ``cut``, ``silence``, ``drop`` or ``swallowed``."""
        lane = self.lane_prefix + str(conn)
        if kind == "swallowed":
            arrow = "up" if direction is Direction.UP else "down"
            return self._stamp.event(t, lane, arrow, "swallowed", f"{dropped} B swallowed by the dead path", dropped, 0)
        return self._stamp.event(t, lane, "", kind, f"conn {lane}: {MARK_LABELS[kind]}", 0, 0)

    def lose(self, t: float, conn: int) -> list[FlowEvent]:
        """Bytes of connection ``conn`` were missed (not fed): stop decoding it, and say so.

        Parsing on after a gap would misread every later message or frame, so the
        rest of that connection is not drawn (its end still is). Returns the
        messages it leaves unfinished, marked so, and a ``lost`` mark."""
        state = self._conn(conn)
        if state.up.mode == "lost":
            return []  # said once already
        out: list[FlowEvent] = []
        for side in (state.up, state.down):
            message = side.message
            if message is not None and not message["done"]:
                message.update({"done": True, "cut": True, "label": message["label"] + " (rest not drawn)"})
                out.append(message)
            side.mode, side.parser, side.message, side.buffer, side.sse = "lost", None, None, b"", None
        for request in state.pending:
            request["lost"] = True  # its answer, if any, was in the bytes missed: not "held"
            _once(out, request)
        state.pending.clear()
        out.append(self.note(t, conn, "lost"))
        return out

    # -- connections, frames, ends --------------------------------------------------

    def _conn(self, number: int) -> _Conn:
        conn = self._conns.get(number)
        if conn is None:
            conn = self._conns[number] = _Conn(self.lane_prefix + str(number))
        return conn

    def _frames(self, conn: _Conn, side: _Side, data: bytes, t: float, out: list[FlowEvent]) -> None:
        if not side.buffer:
            side.buffer_t = t
        side.buffer += data
        up = side.direction is Direction.UP
        times = [(0, side.buffer_t), (len(side.buffer) - len(data), t)]
        frames, rest = decode_frames(side.buffer, client=up, times=times)
        for frame in frames:
            label = frame_label(
                frame.opcode, frame.length, masked=frame.masked, close_code=frame.close_code, reason=frame.close_reason
            )
            event = self._stamp.event(
                frame.t, conn.lane, "up" if up else "down", "frame", label, frame.wire_bytes, frame.header_bytes
            )
            payload = frame.payload[:PREVIEW]
            if frame.opcode == "CLOSE":
                shown = (
                    f"code {frame.close_code} ({payload[:2].hex(' ')}), reason {frame.close_reason!r}"
                    if frame.close_code
                    else "no code"
                )
            elif frame.opcode in ("TEXT", "CONT") and not frame.compressed:
                shown = payload.decode("utf-8", "replace")
            else:
                shown = payload.hex(" ")
            more = f"\n… (+{frame.length - PREVIEW} bytes)" if frame.length > PREVIEW else ""
            event["detail"] = (
                f"--- frame header ({frame.header_bytes} bytes) ---\n"
                + frame.raw[: frame.header_bytes].hex(" ")
                + f"\nfin={int(frame.fin)} opcode={frame.opcode}"
                + (f" mask key {frame.mask_key.hex()}" if frame.mask_key else " not masked")
                + (" rsv1 (compressed)" if frame.compressed else "")
                + f"\n--- payload ({frame.length} bytes{', unmasked' if frame.masked else ''}) ---\n"
                + shown
                + more
            )
            event["opcode"] = frame.opcode
            out.append(event)
        side.buffer = rest
        if rest and frames:
            side.buffer_t = t
        if len(rest) > MAX_FRAME_BUFFER:
            side.buffer, side.mode = b"", "raw"
            out.append(self._raw(conn, side, rest, t))

    def _raw(self, conn: _Conn, side: _Side, data: bytes, t: float) -> FlowEvent:
        direction = "up" if side.direction is Direction.UP else "down"
        event = self._stamp.event(
            t, conn.lane, direction, "data", f"{len(data)} B (not HTTP, not frames)", len(data), 0
        )
        event["detail"] = "--- bytes ---\n" + data[:PREVIEW].hex(" ")
        return event

    def _closed(self, conn: _Conn, side: _Side, t: float, out: list[FlowEvent]) -> None:
        """One side finished sending (EOF): a body read until close ends here; others end cut short."""
        side.closed = True
        if side.mode == "http" and side.parser is not None:
            try:
                side.parser.receive_data(b"")
            except RuntimeError:
                pass
            self._http.drain(conn, side, t, out)
            message = side.message
            if message is not None and not message["done"]:
                message.update({"t_end": self._stamp.clock(t), "done": True, "cut": not message.get("stream")})
                message["label"] += " (stream closed)" if message.get("stream") else " (cut short)"
                message["detail"] = message_detail(message["detail"], side.body_preview, message["body"])
                out.append(message)
                side.message = None
        who = "client" if side.direction is Direction.UP else "server"
        event = self._stamp.event(
            t,
            conn.lane,
            "up" if side.direction is Direction.UP else "down",
            "end",
            f"conn {conn.lane}: {who} side closed",
            0,
            0,
        )
        out.append(event)
