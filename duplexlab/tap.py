"""The wire tap: a transparent TCP proxy that records every byte, both ways, and can break.

Point a client at ``tap.url`` instead of the server's URL; the tap opens its own
connection to the server and copies bytes across unchanged, recording each read
as a :class:`~duplexlab.capture.Chunk` with the moment it arrived. Read what it
saw with :meth:`Tap.capture`, :meth:`Tap.transcript` and :meth:`Tap.counts`.

It can also play the network's failures, from a cell or a slider:

- ``tap.latency = 0.05``: every chunk waits 50 ms before it is passed on;
- ``tap.cut()``: cut connections now (both ends see the connection reset);
- ``tap.idle_timeout = 2``: cut connections quiet for 2 s, as a proxy or NAT does;
  with ``tap.idle_action = "silent"`` the path just goes dead, and nobody is told;
- ``tap.drop_server()``: close the server's side; the client's side stays open,
  and what the client sends is swallowed.

The recording is bounded: past ``MAX_RECORDED`` bytes the tap still passes
everything on but records only how much (the transcript says "truncated").
Its connections are counted at the lab's connection gate, if it has one.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from .capture import Capture, Chunk, Counts, Direction
from .errors import PortInUseError
from .hygiene import ConnectionGate
from .runtime import LoopThread

__all__ = ["Tap"]

READ_SIZE = 64 * 1024
MAX_RECORDED = 32 * 1024 * 1024  # bytes of recording kept
IDLE_ACTIONS = ("close", "silent")


@dataclass(eq=False)
class _Link:
    """One client connection through the tap, and its server-side twin."""

    id: int
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    last_activity: float = field(default_factory=time.perf_counter)
    silent: bool = False  # the path is dead: nothing is passed on, nobody is told

    def abort(self) -> None:
        for w in (self.client, self.server):
            if w is not None:
                w.transport.abort()


class Tap:
    """A recording proxy in front of ``target`` (a URL such as ``lab.url``).

    Start it with ``lab.tap(url)`` (which runs it on the lab's loop thread) or,
    inside a coroutine on any loop, ``await Tap(url).start()``.

    Example::

        tap = lab.tap(lab.url)
        dl.Client(tap.url).get("/api/health")
        print(tap.transcript())
    """

    def __init__(self, target: str, *, host: str = "127.0.0.1", port: int = 0,
                 gate: ConnectionGate | None = None, max_recorded: int = MAX_RECORDED) -> None:
        parts = urlsplit(target)
        if not parts.hostname or not parts.port:
            raise ValueError(f"the tap needs a target URL with a host and a port, not {target!r}")
        self.target = target
        self._parts = parts
        self.host, self.port = host, port
        self._chunks: list[Chunk] = []
        self._recorded = 0
        self.truncated = 0
        self.max_recorded = max_recorded
        self.gate = gate
        self.lab = None  # the lab that started it, if one did (lab.tap)
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._loop: LoopThread | None = None
        self._links: dict[int, _Link] = {}
        self._tasks: set[asyncio.Task] = set()
        self._watchdog: asyncio.Task | None = None
        self.latency = 0.0
        self.idle_timeout: float | None = None
        self.idle_action = "close"
        self.cuts = 0
        self.dropped_bytes = 0

    @property
    def url(self) -> str:
        """The target URL with the tap's address in place of the server's."""
        return urlunsplit(self._parts._replace(netloc=f"{self.host}:{self.port}"))

    @property
    def open_connections(self) -> int:
        """Client connections the tap is carrying now."""
        return len(self._links)

    async def start(self) -> Tap:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_idle())
        return self

    def _bind(self, loop: LoopThread) -> None:
        self._loop = loop

    def _record(self, conn: int, direction: Direction, data: bytes) -> None:
        if self._recorded + len(data) > self.max_recorded:
            self.truncated += len(data)
            return
        self._recorded += len(data)
        self._chunks.append(Chunk(time.perf_counter(), conn, direction, data))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.gate is not None and not self.gate.enter():
            writer.transport.abort()  # the lab is full: no fd held for this one
            return
        try:
            await self._carry(reader, writer)
        finally:
            if self.gate is not None:
                self.gate.leave()

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(next(self._ids), writer)
        task = asyncio.current_task()
        self._tasks.add(task)
        self._links[link.id] = link
        try:
            try:
                up_reader, link.server = await asyncio.open_connection(
                    self._parts.hostname, self._parts.port
                )
            except OSError:
                return
            await asyncio.gather(
                self._pump(link, Direction.UP, reader),
                self._pump(link, Direction.DOWN, up_reader),
            )
        except asyncio.CancelledError:
            pass  # the tap or the lab is closing: end this connection quietly
        finally:
            link.client.close()
            if link.server is not None:
                link.server.close()
            self._links.pop(link.id, None)
            self._tasks.discard(task)

    async def _pump(self, link: _Link, direction: Direction, reader: asyncio.StreamReader) -> None:
        while True:
            writer = link.server if direction is Direction.UP else link.client
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError):
                data = None
            if link.silent:
                if data:
                    self.dropped_bytes += len(data)
                    continue
                # this end gave up on the dead path; the other end is not told
                own = link.client if direction is Direction.UP else link.server
                if own is not None:
                    own.transport.abort()
                return
            if not data:
                self._record(link.id, direction, b"")
                if data is None:
                    link.abort()
                elif writer is not None and writer.can_write_eof() and not writer.is_closing():
                    try:
                        writer.write_eof()
                    except OSError:
                        pass
                return
            link.last_activity = time.perf_counter()
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            if link.silent:
                self.dropped_bytes += len(data)
                continue
            self._record(link.id, direction, data)
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                self._record(link.id, direction, b"")
                link.abort()
                return

    async def _watch_idle(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            if self.idle_timeout is None:
                continue
            now = time.perf_counter()
            for link in list(self._links.values()):
                if not link.silent and now - link.last_activity > self.idle_timeout:
                    self._break(link, self.idle_action)

    def _break(self, link: _Link, how: str) -> None:
        self.cuts += 1
        if how == "close":
            link.abort()
        elif how == "silent":
            link.silent = True
        elif how == "drop-server":
            link.silent = True
            if link.server is not None:
                link.server.transport.abort()

    # -- faults, from any thread ----------------------------------------------

    def _links_for(self, conn: int | None) -> list[_Link]:
        if conn is None:
            return list(self._links.values())
        return [self._links[conn]] if conn in self._links else []

    def _fault(self, conn: int | None, how: str) -> int:
        def act() -> int:
            links = self._links_for(conn)
            for link in links:
                self._break(link, how)
            return len(links)

        if self._loop is not None and self._loop.running and not self._loop.on_loop_thread:
            async def run() -> int:
                return act()

            return self._loop.run(run(), 5)
        return act()

    def cut(self, conn: int | None = None) -> int:
        """Cut connection ``conn`` (default: all) now; both ends see a reset. Returns how many."""
        return self._fault(conn, "close")

    def silence(self, conn: int | None = None) -> int:
        """Let the path of ``conn`` (default: all) go dead: both ends stay open, nothing passes."""
        return self._fault(conn, "silent")

    def drop_server(self, conn: int | None = None) -> int:
        """Close the server's side of ``conn`` (default: all); the client's side stays open."""
        return self._fault(conn, "drop-server")

    @property
    def idle_action(self) -> str:
        return self._idle_action

    @idle_action.setter
    def idle_action(self, value: str) -> None:
        if value not in IDLE_ACTIONS:
            raise ValueError(f"idle_action is one of {IDLE_ACTIONS}, not {value!r}")
        self._idle_action = value

    async def aclose(self) -> None:
        """Stop listening and cut every connection the tap carries."""
        server, self._server = self._server, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if server is not None:
            server.close()
        for link in list(self._links.values()):
            link.abort()
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
        return Capture(tuple(self._chunks), self.truncated)

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
        self._recorded = self.truncated = 0

    def __repr__(self) -> str:
        return f"<Tap {self.url} → {self.target}, {len(self._chunks)} chunks>"
