"""The wire tap: a transparent TCP proxy that records every byte, both ways.

Point a client at ``tap.url`` instead of the server's URL; the tap opens its own
connection to the server and copies bytes across unchanged, recording each read
as a :class:`~duplexlab.capture.Chunk` with the moment it arrived. Read what it
saw with :meth:`Tap.capture`, :meth:`Tap.transcript` and :meth:`Tap.counts`.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import time
from urllib.parse import urlsplit, urlunsplit

from .capture import Capture, Chunk, Counts, Direction
from .errors import PortInUseError
from .runtime import LoopThread

__all__ = ["Tap"]

READ_SIZE = 64 * 1024


class Tap:
    """A recording proxy in front of ``target`` (a URL such as ``lab.url``).

    Start it with ``lab.tap(url)`` (which runs it on the lab's loop thread) or,
    inside a coroutine on any loop, ``await Tap(url).start()``.

    Example::

        tap = lab.tap(lab.url)
        dl.Client(tap.url).get("/api/health")
        print(tap.transcript())
    """

    def __init__(self, target: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(target)
        if not parts.hostname or not parts.port:
            raise ValueError(f"the tap needs a target URL with a host and a port, not {target!r}")
        self.target = target
        self._parts = parts
        self.host, self.port = host, port
        self._chunks: list[Chunk] = []
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._loop: LoopThread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        """The target URL with the tap's address in place of the server's."""
        return urlunsplit(self._parts._replace(netloc=f"{self.host}:{self.port}"))

    @property
    def open_connections(self) -> int:
        """Client connections the tap is carrying now."""
        return len(self._tasks)

    async def start(self) -> Tap:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _bind(self, loop: LoopThread) -> None:
        self._loop = loop

    def _record(self, conn: int, direction: Direction, data: bytes) -> None:
        self._chunks.append(Chunk(time.perf_counter(), conn, direction, data))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(self._ids)
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        upstream_writer = None
        try:
            try:
                up_reader, upstream_writer = await asyncio.open_connection(
                    self._parts.hostname, self._parts.port
                )
            except OSError:
                return
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pump(conn, Direction.UP, reader, upstream_writer),
                self._pump(conn, Direction.DOWN, up_reader, writer),
            )
        except asyncio.CancelledError:
            pass  # the tap or the lab is closing: end this connection quietly
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)

    async def _pump(
        self,
        conn: int,
        direction: Direction,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            while data := await reader.read(READ_SIZE):
                self._record(conn, direction, data)
                writer.write(data)
                await writer.drain()
            self._record(conn, direction, b"")
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        except (ConnectionError, OSError):
            self._record(conn, direction, b"")
            writer.transport.abort()

    async def aclose(self) -> None:
        """Stop listening and cut every connection the tap carries."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._writers):
            w.transport.abort()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=2)
            for task in pending:
                task.cancel()
        if server is not None:
            await server.wait_closed()

    def close(self) -> None:
        """Stop the tap (from a cell). Twice is harmless."""
        if self._loop is not None and self._loop.running:
            self._loop.run(self.aclose(), 10)

    # -- what it saw ---------------------------------------------------------

    def capture(self) -> Capture:
        """A snapshot of everything recorded so far."""
        return Capture(tuple(self._chunks))

    def transcript(self, **kwargs) -> str:
        """Every HTTP message so far, readable (see :meth:`Capture.transcript`)."""
        return self.capture().transcript(**kwargs)

    def raw(self, conn: int | None = None) -> str:
        """The exact bytes so far, ``\\r\\n`` made visible."""
        return self.capture().raw(conn)

    def counts(self) -> Counts:
        """Requests, responses and bytes so far, each way."""
        return self.capture().counts()

    def clear(self) -> None:
        """Forget what was recorded (connections stay open)."""
        self._chunks.clear()

    def __repr__(self) -> str:
        return f"<Tap {self.url} → {self.target}, {len(self._chunks)} chunks>"
