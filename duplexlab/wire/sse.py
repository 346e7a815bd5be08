"""Server-sent events: the ``text/event-stream`` format, written and read. No sockets here.

An event stream is one long HTTP response that the server keeps writing.
Each event is a few ``field: value`` lines and a blank line::

    id: 7
    event: notification
    data: {"text": "Kabir accepted your friend request"}

A client that loses the stream reconnects and sends the last id it saw in a
``Last-Event-ID`` header; the server resumes after it. ``retry:`` tells the
client how many milliseconds to wait before reconnecting. Lines starting with
``:`` are comments (used as keep-alives). The rules follow the WHATWG HTML
standard's event-stream interpretation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Event", "EventParser", "ServerSentEvent", "encode"]


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event. ``id`` is the last event id in force when it arrived."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


Event = ServerSentEvent
"""The first name of :class:`ServerSentEvent`, kept so that ``dl.sse.Event`` still works.

New code says ``ServerSentEvent``: the sequence diagram has events too
(:class:`~duplexlab.wire.flow.FlowEvent`), and one name each keeps them apart.
"""


def encode(
    data: str | None = None,
    *,
    event: str | None = None,
    id: str | int | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """One event (or a comment, or a retry hint) in the event-stream format.

    Multi-line ``data`` becomes several ``data:`` lines, as the format requires.

    Example::

        encode('{"n": 1}', event="tick", id=1)
        # b'id: 1\\nevent: tick\\ndata: {"n": 1}\\n\\n'
    """
    lines: list[str] = []
    if comment is not None:
        lines += [f": {part}" for part in comment.splitlines() or [""]]
    if retry is not None:
        if retry < 0:
            raise ValueError(f"retry is a number of milliseconds, not {retry}")
        lines.append(f"retry: {int(retry)}")
    if id is not None:
        text = str(id)
        if "\n" in text or "\r" in text or "\0" in text:
            raise ValueError("an event id cannot contain line breaks or NUL")
        lines.append(f"id: {text}")
    if event is not None:
        if "\n" in event or "\r" in event:
            raise ValueError("an event name cannot contain line breaks")
        lines.append(f"event: {event}")
    if data is not None:
        lines += [f"data: {part}" for part in data.split("\n")]
    if not lines:
        raise ValueError("nothing to encode: give data, a comment or retry")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class EventParser:
    """Turns event-stream bytes, fed in pieces of any size, into :class:`ServerSentEvent` objects.

    Example::

        parser = EventParser()
        parser.feed(b"id: 1\\ndata: hel")     # []
        parser.feed(b"lo\\n\\n")               # [ServerSentEvent(data='hello', event='message', id='1', retry=None)]
        parser.last_event_id                  # '1'
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._started = False
        self._id = ""  # the last event id buffer: an ``id:`` line sets it at once
        self.last_event_id = ""  # what a reconnect sends: the buffer, as of the last block that ended
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Add bytes; return the events they completed."""
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        while True:
            line, ending = self._next_line()
            if ending is None:
                return events
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _next_line(self) -> tuple[str, bytes | None]:
        buf = self._buffer
        for i, byte in enumerate(buf):
            if byte == 0x0A:  # \n
                self._buffer = buf[i + 1 :]
                return self._decode(buf[:i]), b"\n"
            if byte == 0x0D:  # \r or \r\n
                if i + 1 == len(buf):
                    return "", None  # wait: the \n may be in the next chunk
                skip = 2 if buf[i + 1] == 0x0A else 1
                self._buffer = buf[i + skip :]
                return self._decode(buf[:i]), buf[i : i + skip]
        return "", None

    def _decode(self, raw: bytes) -> str:
        if not self._started:
            self._started = True
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a leading BOM is ignored
        return raw.decode("utf-8", errors="replace")

    def _line(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self.retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        # As the HTML standard's dispatch does: the id takes effect when its block ends, even a
        # block with no data (``id: 9`` alone moves Last-Event-ID to 9); a block cut off before
        # its blank line never ended, so its id never counts.
        self.last_event_id = self._id
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event or "message", self.last_event_id, self.retry)
