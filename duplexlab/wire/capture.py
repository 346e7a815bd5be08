"""What crossed the wire: recorded chunks, decoded into HTTP messages. No sockets here.

The :class:`~duplexlab.tap.Tap` records every read from either side of a TCP
connection as a :class:`Chunk`. A :class:`Capture` is an immutable snapshot of
those chunks; it splits each connection's two byte streams into HTTP messages
with h11 (a Sans-I/O HTTP/1.1 parser, so nothing here hand-parses HTTP) and
counts bytes: header bytes, body bytes, and what came after an upgrade. After a
``101 Switching Protocols`` it decodes WebSocket frames with the ``websockets``
library's Sans-I/O frame parser (no hand-written frame parser either).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field

import h11
from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.extensions.base import Extension
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader
from websockets.typing import ExtensionName

__all__ = ["Capture", "Chunk", "Counts", "Direction", "HTTPMessage", "WSFrame", "show_bytes"]


class Direction(enum.Enum):
    """Which way bytes travelled."""

    UP = "client → server"
    DOWN = "server → client"


@dataclass(frozen=True)
class Chunk:
    """One read from one side of a connection; ``data == b""`` marks the end (EOF)."""

    t: float
    conn: int
    direction: Direction
    data: bytes


@dataclass
class HTTPMessage:
    """One HTTP request or response found in a captured stream.

    ``wire_bytes`` is its whole size on the wire; ``header_bytes`` is the start
    line and headers up to and including the blank line; ``body`` the decoded
    body (chunked framing removed). ``complete`` is False while it is still
    arriving (a held long poll, an event stream).
    """

    conn: int
    direction: Direction
    t: float
    start_line: str
    headers: list[tuple[str, str]]
    body: bytes
    header_bytes: int
    wire_bytes: int
    complete: bool = True
    status: int | None = None
    method: str | None = None

    @property
    def is_request(self) -> bool:
        return self.direction is Direction.UP

    @property
    def body_bytes(self) -> int:
        return len(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header called ``name`` (any case)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default


@dataclass
class WSFrame:
    """One WebSocket frame found after an upgrade.

    ``header_bytes`` is the frame's overhead on the wire: 2 bytes, plus 2 or 8
    for a longer length, plus the 4-byte mask key on client frames.
    ``payload`` is unmasked. ``raw`` is the frame exactly as it crossed.
    """

    conn: int
    direction: Direction
    t: float
    fin: bool
    opcode: str
    masked: bool
    mask_key: bytes | None
    payload: bytes
    header_bytes: int
    raw: bytes
    close_code: int | None = None
    close_reason: str = ""
    compressed: bool = False  # RSV1: the payload is compressed (permessage-deflate), shown as it crossed

    @property
    def wire_bytes(self) -> int:
        return len(self.raw)

    @property
    def length(self) -> int:
        return len(self.payload)

    def describe(self, *, payloads: int = 120) -> str:
        arrow = "→" if self.direction is Direction.UP else "←"
        mask = f"masked, key {self.mask_key.hex()}" if self.masked and self.mask_key else "not masked"
        rsv1 = " rsv1 (compressed)" if self.compressed else ""
        what = f"{self.opcode} fin={int(self.fin)}{rsv1} {mask} len={self.length}"
        sizes = f"[{self.wire_bytes} bytes: {self.header_bytes} header + {self.length} payload]"
        if self.opcode == "CLOSE":
            body = f"code {self.close_code} {self.close_reason!r}" if self.close_code else "no code"
        elif not self.compressed and (self.opcode == "TEXT" or (self.opcode == "CONT" and _readable(self.payload))):
            # a continuation of a text message is text too (shown as such when it reads as text)
            text = self.payload.decode("utf-8", errors="replace")
            body = text[:payloads] + (" …" if len(text) > payloads else "")
        else:
            body = self.payload[:payloads].hex(" ") if self.payload else ""
        return f"{arrow} {what}   {sizes}  {body}".rstrip()


class _AsCompressed(Extension):
    """For display only: lets a frame with RSV1 (permessage-deflate) through as it is, and notes the bit.

    The payload stays compressed: the tap shows what crossed the wire.
    """

    name = ExtensionName("permessage-deflate")

    def __init__(self) -> None:
        self.rsv1 = False

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.rsv1 = frame.rsv1
        return dataclasses.replace(frame, rsv1=False)

    def encode(self, frame: Frame) -> Frame:
        return frame


def _readable(payload: bytes) -> bool:
    """Whether bytes read as printable UTF-8 text."""
    try:
        return payload.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        return False


def decode_frames(
    data: bytes, *, client: bool, conn: int = 0, times: list[tuple[int, float]] | None = None
) -> tuple[list[WSFrame], bytes]:
    """Decode WebSocket frames from one direction of a connection.

    Args:
        data: the bytes after the handshake, in one direction.
        client: True for client → server bytes (those frames must be masked).
        times: (offset, time) of each captured chunk, to date each frame.

    Returns:
        The complete frames, and the bytes left over (a frame still arriving,
        or bytes that are not a valid frame).
    """
    reader = StreamReader()
    reader.feed_data(data)
    frames: list[WSFrame] = []
    pos = 0
    while pos < len(data):
        compressed = _AsCompressed()
        parser = Frame.parse(reader.read_exact, mask=client, max_size=None, extensions=[compressed])
        try:
            next(parser)
        except StopIteration as done:
            frame: Frame = done.value
        except (ProtocolError, PayloadTooBig, EOFError):
            break
        else:
            break  # the parser wants more bytes: a frame still arriving
        used = len(data) - pos - len(reader.buffer)
        raw = data[pos : pos + used]
        header = used - len(frame.data)
        t = _time_at(times or [], pos)
        code, reason = None, ""
        if frame.opcode is Opcode.CLOSE and frame.data:
            close = Close.parse(frame.data)
            code, reason = close.code, close.reason
        frames.append(
            WSFrame(
                conn,
                Direction.UP if client else Direction.DOWN,
                t,
                frame.fin,
                frame.opcode.name,
                client,
                raw[header - 4 : header] if client else None,
                bytes(frame.data),
                header,
                bytes(raw),
                code,
                reason,
                compressed.rsv1,
            )
        )
        pos += used
    return frames, data[pos:]


def _time_at(times: list[tuple[int, float]], offset: int) -> float:
    t = times[0][1] if times else 0.0
    for start, when in times:
        if start > offset:
            break
        t = when
    return t


@dataclass
class Counts:
    """Totals over a capture. ``*_up`` is client → server, ``*_down`` server → client.

    ``other_bytes_*`` are bytes that are not HTTP messages: WebSocket frames
    after an upgrade, or bytes that could not be parsed.
    """

    connections: int = 0
    requests: int = 0
    responses: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    header_bytes_up: int = 0
    header_bytes_down: int = 0
    body_bytes_up: int = 0
    body_bytes_down: int = 0
    other_bytes_up: int = 0
    other_bytes_down: int = 0
    frames_up: int = 0
    frames_down: int = 0
    frame_header_bytes_up: int = 0
    frame_header_bytes_down: int = 0
    frame_payload_bytes_up: int = 0
    frame_payload_bytes_down: int = 0

    @property
    def bytes_total(self) -> int:
        return self.bytes_up + self.bytes_down

    @property
    def header_bytes(self) -> int:
        return self.header_bytes_up + self.header_bytes_down

    @property
    def body_bytes(self) -> int:
        return self.body_bytes_up + self.body_bytes_down

    def __str__(self) -> str:
        return (
            f"{self.connections} connection(s), {self.requests} request(s), "
            f"{self.responses} response(s); {self.bytes_up} bytes up "
            f"({self.header_bytes_up} header, {self.body_bytes_up} body), "
            f"{self.bytes_down} bytes down ({self.header_bytes_down} header, "
            f"{self.body_bytes_down} body)"
        )


def show_bytes(data: bytes) -> str:
    """Bytes as text a person can read: ``\\r`` and ``\\n`` shown, one line per line."""
    lines = data.split(b"\n")
    shown = [repr(line)[2:-1] + "\\n" for line in lines[:-1]]
    if lines[-1]:
        shown.append(repr(lines[-1])[2:-1])
    return "\n".join(shown)


@dataclass
class _Stream:
    data: bytes
    t_at: list[tuple[int, float]]  # (offset where a chunk starts, its time)
    closed: bool

    def time_at(self, offset: int) -> float:
        return _time_at(self.t_at, offset)


def _decode(raw: bytes) -> str:
    return raw.decode("latin-1")


_COOKIES = re.compile(rb"(?im)^((?:set-)?cookie: *)[^\r\n]*")


def hidden(name: str, value: str) -> str:
    """A header's value as the course shows it: a ``Cookie``/``Set-Cookie`` value only by its size (a
    browser sends every cookie of the host, Jupyter's login cookie too, and transcripts get projected)."""
    if name.lower() in ("cookie", "set-cookie"):
        return f"[{len(value)} bytes of cookies, hidden]"
    return value


def _header_end(data: bytes, start: int) -> int:
    end = data.find(b"\r\n\r\n", start)
    return len(data) if end < 0 else end + 4


_Head = h11.Request | h11.Response | h11.InformationalResponse


def _read_message(conn: h11.Connection, data: bytes, closed: bool) -> tuple[_Head | None, bytes, int, bool]:
    """Feed ``data`` to a fresh h11 connection; return (head, body, consumed, complete).

    A message cut short (the connection closed mid-body, as when a client stops
    reading an event stream) comes back with ``complete`` False, not as an error.
    """
    conn.receive_data(data)
    head: _Head | None = None
    body, complete = bytearray(), False
    eof_sent = False
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            if head is None:
                raise
            break
        if event is h11.NEED_DATA and closed and not eof_sent:
            conn.receive_data(b"")
            eof_sent = True
            continue
        if event is h11.NEED_DATA or event is h11.PAUSED:
            break
        if isinstance(event, (h11.Request, h11.Response, h11.InformationalResponse)):
            head = event
            if isinstance(event, h11.InformationalResponse):
                complete = True
                break
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            complete = True
            break
        elif isinstance(event, h11.ConnectionClosed):
            break
    left = len(conn.trailing_data[0])
    return head, bytes(body), len(data) - left, complete


@dataclass(frozen=True)
class Capture:
    """An immutable snapshot of recorded chunks, with views over it.

    ``truncated`` counts the bytes the tap carried but no longer recorded (its
    recording is bounded); the transcript says so at its top.
    """

    chunks: tuple[Chunk, ...] = field(default_factory=tuple)
    truncated: int = 0

    def connections(self) -> list[int]:
        return sorted({c.conn for c in self.chunks})

    def stream(self, conn: int, direction: Direction) -> bytes:
        """All bytes of one connection in one direction, in order."""
        return b"".join(c.data for c in self.chunks if c.conn == conn and c.direction is direction)

    def _stream(self, conn: int, direction: Direction) -> _Stream:
        parts, times, offset, closed = [], [], 0, False
        for c in self.chunks:
            if c.conn == conn and c.direction is direction:
                if not c.data:
                    closed = True
                    continue
                times.append((offset, c.t))
                parts.append(c.data)
                offset += len(c.data)
        return _Stream(b"".join(parts), times, closed)

    def bytes_up(self) -> int:
        return sum(len(c.data) for c in self.chunks if c.direction is Direction.UP)

    def bytes_down(self) -> int:
        return sum(len(c.data) for c in self.chunks if c.direction is Direction.DOWN)

    def http_messages(self, conn: int | None = None) -> list[HTTPMessage]:
        """Every HTTP message, requests and responses, in order of their first byte."""
        found: list[HTTPMessage] = []
        for c in self.connections() if conn is None else [conn]:
            found.extend(self._connection_messages(c)[0])
        return sorted(found, key=lambda m: (m.t, m.direction is Direction.DOWN))

    def upgraded_streams(self, conn: int) -> tuple[bytes, bytes] | None:
        """After a ``101 Switching Protocols``: the bytes (up, down) that followed it."""
        offsets = self._connection_messages(conn)[1]
        if offsets is None:
            return None
        up, down = self._stream(conn, Direction.UP), self._stream(conn, Direction.DOWN)
        return up.data[offsets[0] :], down.data[offsets[1] :]

    def ws_frames(self, conn: int | None = None) -> list[WSFrame]:
        """Every WebSocket frame after an upgrade, both ways, in order of their first byte."""
        found: list[WSFrame] = []
        for c in self.connections() if conn is None else [conn]:
            offsets = self._connection_messages(c)[1]
            if offsets is None:
                continue
            for direction, start in zip((Direction.UP, Direction.DOWN), offsets):
                stream = self._stream(c, direction)
                times = [(o - start, t) for o, t in stream.t_at]
                frames, _ = decode_frames(stream.data[start:], client=direction is Direction.UP, conn=c, times=times)
                found.extend(frames)
        return sorted(found, key=lambda f: (f.t, f.direction is Direction.DOWN))

    def _connection_messages(self, conn: int) -> tuple[list[HTTPMessage], tuple[int, int] | None]:
        up, down = self._stream(conn, Direction.UP), self._stream(conn, Direction.DOWN)
        messages: list[HTTPMessage] = []
        up_pos = down_pos = 0
        while up_pos < len(up.data):
            request = self._one(conn, Direction.UP, up, up_pos, h11.Connection(h11.SERVER))
            if request is None:
                break
            messages.append(request)
            up_pos += request.wire_bytes
            if down_pos >= len(down.data):
                if not request.complete:
                    break
                continue
            client = h11.Connection(h11.CLIENT)
            headers = [("Host", "tap")]
            upgrade = request.header("upgrade")
            if upgrade:
                headers += [("Connection", "upgrade"), ("Upgrade", upgrade)]
            client.send(h11.Request(method=request.method or "GET", target="/", headers=headers))
            client.send(h11.EndOfMessage())
            response = self._one(conn, Direction.DOWN, down, down_pos, client)
            if response is None:
                break
            messages.append(response)
            down_pos += response.wire_bytes
            if response.status == 101:
                return messages, (up_pos, down_pos)
            if not request.complete or not response.complete:
                break
        return messages, None

    def _one(
        self, conn: int, direction: Direction, stream: _Stream, pos: int, parser: h11.Connection
    ) -> HTTPMessage | None:
        try:
            head, body, used, complete = _read_message(parser, stream.data[pos:], stream.closed)
        except h11.RemoteProtocolError:
            return None
        if head is None:
            return None
        raw_headers = [(_decode(k), _decode(v)) for k, v in head.headers.raw_items()]
        if isinstance(head, h11.Request):
            start = f"{_decode(head.method)} {_decode(head.target)} HTTP/{_decode(head.http_version)}"
            method, status = _decode(head.method), None
        else:
            reason = _decode(head.reason)
            start = f"HTTP/{_decode(head.http_version)} {head.status_code} {reason}".rstrip()
            method, status = None, head.status_code
        header_bytes = _header_end(stream.data, pos) - pos
        if not complete:
            used = len(stream.data) - pos
        return HTTPMessage(
            conn=conn,
            direction=direction,
            t=stream.time_at(pos),
            start_line=start,
            headers=raw_headers,
            body=body,
            header_bytes=min(header_bytes, used),
            wire_bytes=used,
            complete=complete,
            status=status,
            method=method,
        )

    def counts(self) -> Counts:
        """Byte and message totals; the byte totals are exactly what crossed the sockets."""
        counts = Counts(connections=len(self.connections()))
        counts.bytes_up, counts.bytes_down = self.bytes_up(), self.bytes_down()
        for m in self.http_messages():
            if m.is_request:
                counts.requests += 1
                counts.header_bytes_up += m.header_bytes
                counts.body_bytes_up += m.wire_bytes - m.header_bytes
            else:
                counts.responses += 1
                counts.header_bytes_down += m.header_bytes
                counts.body_bytes_down += m.wire_bytes - m.header_bytes
        for f in self.ws_frames():
            if f.direction is Direction.UP:
                counts.frames_up += 1
                counts.frame_header_bytes_up += f.header_bytes
                counts.frame_payload_bytes_up += f.length
            else:
                counts.frames_down += 1
                counts.frame_header_bytes_down += f.header_bytes
                counts.frame_payload_bytes_down += f.length
        counts.other_bytes_up = (
            counts.bytes_up
            - counts.header_bytes_up
            - counts.body_bytes_up
            - counts.frame_header_bytes_up
            - counts.frame_payload_bytes_up
        )
        counts.other_bytes_down = (
            counts.bytes_down
            - counts.header_bytes_down
            - counts.body_bytes_down
            - counts.frame_header_bytes_down
            - counts.frame_payload_bytes_down
        )
        return counts

    def transcript(self, *, bodies: int = 300) -> str:
        """A readable account of every connection: each HTTP message with its sizes.

        Args:
            bodies: show at most this many characters of each body.
        """
        if not self.chunks:
            return "(nothing captured yet)"
        t0 = self.chunks[0].t
        lines: list[str] = []
        if self.truncated:
            lines.append(
                f"[truncated: the tap passed on {self.truncated} more bytes that it did "
                "not record; tap.clear() starts a fresh recording]"
            )
        for conn in self.connections():
            lines.append(f"── connection {conn} " + "─" * 40)
            for m in self.http_messages(conn):
                arrow = "→" if m.is_request else "←"
                state = "" if m.complete else ", unfinished"
                lines.append(
                    f"{(m.t - t0) * 1000:9.3f} ms  {arrow} {m.start_line}   "
                    f"[{m.wire_bytes} bytes: {m.header_bytes} header + "
                    f"{m.wire_bytes - m.header_bytes} body{state}]"
                )
                lines.extend(f"               {k}: {hidden(k, v)}" for k, v in m.headers)
                if m.body:
                    text = m.body.decode("utf-8", errors="replace")
                    more = f" … (+{len(text) - bodies} chars)" if len(text) > bodies else ""
                    shown = text[:bodies].rstrip("\n").replace("\n", "\n               ")
                    lines.append(f"               {shown}{more}")
            frames = self.ws_frames(conn)
            for f in frames:
                lines.append(f"{(f.t - t0) * 1000:9.3f} ms  {f.describe(payloads=bodies)}")
            after = self.upgraded_streams(conn)
            if after is not None:
                used_up = sum(f.wire_bytes for f in frames if f.direction is Direction.UP)
                used_down = sum(f.wire_bytes for f in frames if f.direction is Direction.DOWN)
                rest = (len(after[0]) - used_up, len(after[1]) - used_down)
                if rest != (0, 0):
                    lines.append(f"           not (yet) frames: {rest[0]} bytes →, {rest[1]} bytes ←")
        return "\n".join(lines)

    def raw(self, conn: int | None = None) -> str:
        """The exact bytes of each chunk, with ``\\r\\n`` made visible."""
        lines = []
        t0 = self.chunks[0].t if self.chunks else 0.0
        for c in self.chunks:
            if conn is not None and c.conn != conn:
                continue
            what = f"{len(c.data)} bytes" if c.data else "closed (EOF)"
            lines.append(f"{(c.t - t0) * 1000:9.3f} ms  conn {c.conn}  {c.direction.value}  {what}")
            if c.data:
                lines.append(show_bytes(_COOKIES.sub(lambda m: m[1] + b"[cookies hidden]", c.data)))
        return "\n".join(lines)
