"""The wire tap: a transparent TCP proxy that records every byte, both ways, and can break.

Point a client at ``tap.url`` instead of the server's URL; the tap opens its own
connection to the server and copies bytes across unchanged, recording each read
as a :class:`~duplexlab.wire.capture.Chunk` with the moment it arrived. Read what it
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
import collections
import itertools
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import PortInUseError, is_address_in_use
from .runtime.hygiene import ConnectionGate, Pass
from .runtime.loop import LoopThread
from .wire.capture import Capture, Chunk, Counts, Direction
from .wire.flow import Note

__all__ = ["Tap"]

READ_SIZE = 64 * 1024
MAX_RECORDED = 32 * 1024 * 1024  # bytes of recording kept
IDLE_ACTIONS = ("close", "silent")
IDLE_TICK = 0.02  # seconds between idle checks, while an idle timeout is set
HEAD_LIMIT = 16 * 1024  # a tap in front of two servers reads this much of a request's head to choose one
HEAD_TIMEOUT = 10.0  # seconds it waits for that head
ENGINE_IO_GET = b"GET /socket.io/"  # Socket.IO's WebSocket upgrade: served by the lab's HTTP server


def is_websocket_upgrade(head: bytes) -> bool:
    """Whether an HTTP request head asks to become a WebSocket (``Upgrade: websocket``)."""
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


class _Link:
    """One client connection through the tap, and its server-side twin.

    Bytes are carried by protocol callbacks (no task per direction): what one
    side receives is recorded and written to the other side in the same
    callback, so the tap adds no event-loop wake-up to a round trip.
    """

    def __init__(self, tap: Tap, link_id: int) -> None:
        self.tap = tap
        self.id = link_id
        self.client: _End | None = None
        self.server: _End | None = None
        self.last_activity = time.perf_counter()
        self.silent = False  # the path is dead: nothing is passed on, nobody is told
        self.early: list[bytes] = []  # what the client sent before the server side was up
        self.delayed: dict[Direction, collections.deque[tuple[float, bytes]]] = {
            Direction.UP: collections.deque(),
            Direction.DOWN: collections.deque(),
        }
        self.timers: dict[Direction, asyncio.TimerHandle | None] = {Direction.UP: None, Direction.DOWN: None}
        self.ended: set[Direction] = set()
        self.lost: set[Direction] = set()
        self.admitted: Pass | None = None  # its place at the lab's connection gate
        self.forwarded: tuple[str, int] | None = None  # its own end toward the lab, told to the gate
        # in front of two servers: set once the request's head is in (or the client stopped sending)
        self.head: asyncio.Event | None = asyncio.Event() if tap._websockets is not None else None
        self.head_bytes = bytearray()
        self.target_port = tap._target_port

    def end(self, direction: Direction) -> _End | None:
        """The end that receives what travels in ``direction``."""
        return self.server if direction is Direction.UP else self.client

    def abort(self) -> None:
        for end in (self.client, self.server):
            if end is not None and end.transport is not None:
                end.transport.abort()

    # -- carrying bytes (on the loop) --------------------------------------------

    async def connect(self) -> None:
        """Open the tap's own connection to the server, then pass on what waited."""
        loop, tap = asyncio.get_running_loop(), self.tap
        if self.head is not None:  # in front of two servers: the request's head says which
            try:
                await asyncio.wait_for(self.head.wait(), HEAD_TIMEOUT)
            except TimeoutError:
                self.abort()
                return
            head = bytes(self.head_bytes)
            if is_websocket_upgrade(head) and tap._websockets is not None and not head.startswith(ENGINE_IO_GET):
                self.target_port = tap._websockets  # (Socket.IO's upgrade stays: its server is the HTTP one)
        try:
            sock = await self.own_end()
            if sock is not None:
                await loop.create_connection(lambda: _End(self, Direction.DOWN, tap), sock=sock)
            else:
                await loop.create_connection(
                    lambda: _End(self, Direction.DOWN, tap), tap._target_host, self.target_port
                )
        except asyncio.CancelledError:
            self.abort()
            raise
        except OSError:  # the server is down: the client sees its connection closed
            if self.client is not None and self.client.transport is not None:
                self.client.transport.close()
            return
        client = self.client
        if client is None or client.transport is None or client.transport.is_closing():
            self.abort()
            return
        for data in self.early:
            self.forward(Direction.UP, data)
        self.early.clear()
        if Direction.UP in self.ended:  # the client finished sending before the server was there
            self.pass_eof(Direction.UP)
        client.transport.resume_reading()

    async def own_end(self) -> socket.socket | None:
        """The tap's connection to the lab, made so the lab's gate counts it for the client it carries.

        Bound first (the lab's address, a port of its own), told to the gate (``forwarded``), then
        connected: the lab sees whose it is from its first byte. None (connect the usual way) when
        the target is not on this machine or the lab has no gate.
        """
        tap, client = self.tap, self.client
        gate, host = tap.gate, tap._target_host
        if gate is None or client is None or client.transport is None or not host:
            return None
        address = gate.source(client.transport.get_extra_info("peername"))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.bind((host, 0))
        except OSError:  # not an address of this machine: nothing to tell the gate
            sock.close()
            return None
        if address is not None:
            self.forwarded = sock.getsockname()[:2]
            gate.forwarded[self.forwarded] = address
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, self.target_port))
        except BaseException:
            sock.close()
            self.forget_forwarded()
            raise
        return sock

    def forget_forwarded(self) -> None:
        gate = self.tap.gate
        if self.forwarded is not None and gate is not None:
            gate.forwarded.pop(self.forwarded, None)
            self.forwarded = None

    def carry(self, direction: Direction, data: bytes) -> None:
        """What one side sent: pass it on now, or after ``tap.latency``, or swallow it (a silent path)."""
        self.last_activity = time.perf_counter()
        if self.silent:
            self.swallow(direction, data)
            return
        if self.tap.latency > 0 or self.delayed[direction]:
            self.delayed[direction].append((time.perf_counter() + self.tap.latency, data))
            self.schedule(direction)
            return
        self.forward(direction, data)

    def swallow(self, direction: Direction, data: bytes) -> None:
        self.tap.dropped_bytes += len(data)
        self.tap._note(self.id, "swallowed", dropped=len(data), direction=direction)

    def forward(self, direction: Direction, data: bytes) -> None:
        if self.silent:
            self.swallow(direction, data)
            return
        end = self.end(direction)
        if end is None or end.transport is None:  # the server side is still connecting
            self.early.append(data)
            if self.head is not None and not self.head.is_set():
                self.head_bytes += data  # the head so far; the end is searched for around what just came
                tail = self.head_bytes[-(len(data) + 3) :]
                if b"\r\n\r\n" in tail or len(self.head_bytes) > HEAD_LIMIT:
                    self.head.set()
            if sum(map(len, self.early)) > READ_SIZE and self.client and self.client.transport:
                self.client.transport.pause_reading()  # enough waiting: the client waits too
            return
        self.tap._record(self.id, direction, data)
        if not end.transport.is_closing():
            end.transport.write(data)

    def schedule(self, direction: Direction) -> None:
        """Pass on delayed chunks when they are due, in order (``tap.latency``)."""
        if self.timers[direction] is not None or not self.delayed[direction]:
            return
        due = self.delayed[direction][0][0]

        def flush() -> None:
            self.timers[direction] = None
            queue = self.delayed[direction]
            now = time.perf_counter()
            while queue and queue[0][0] <= now:
                self.forward(direction, queue.popleft()[1])
            if not queue and direction in self.ended:
                self.pass_eof(direction)
            self.schedule(direction)

        loop = asyncio.get_running_loop()
        self.timers[direction] = loop.call_later(max(0.0, due - time.perf_counter()), flush)

    def half_close(self, direction: Direction) -> None:
        """One side finished sending: record it and pass the half-close on (after delayed bytes)."""
        self.ended.add(direction)
        if self.head is not None:
            self.head.set()  # no more head will come
        if self.silent:  # this end gave up on the dead path: it goes, the other end is not told
            own = self.client if direction is Direction.UP else self.server
            if own is not None and own.transport is not None:
                own.transport.abort()
            return
        if not self.delayed[direction] and self.end(direction) is not None:
            self.pass_eof(direction)  # else the flush, or the connect, passes it on

    def pass_eof(self, direction: Direction) -> None:
        self.tap._record(self.id, direction, b"")
        end = self.end(direction)
        if end is not None and end.transport is not None and not end.transport.is_closing():
            if end.transport.can_write_eof():
                try:
                    end.transport.write_eof()
                except OSError:
                    end.transport.abort()
        if len(self.ended) == 2:  # both sides finished: close both, after what is buffered
            for side in (self.client, self.server):
                if side is not None and side.transport is not None:
                    side.transport.close()

    def socket_lost(self, end: _End, exc: Exception | None) -> None:
        """A socket of the link closed: unless the path is silent, the other one goes too."""
        self.lost.add(end.direction)
        if not self.silent:
            if end.direction not in self.ended:
                self.ended.add(end.direction)
                self.tap._record(self.id, end.direction, b"")
            other = end._other()
            if other is not None and other.transport is not None and not other.transport.is_closing():
                if exc is not None:
                    other.transport.abort()  # a reset: pass it on as one
                elif not self.delayed[end.direction]:
                    other.transport.close()  # after what is already buffered for it
        client_gone = Direction.UP in self.lost
        server_gone = self.server is None or Direction.DOWN in self.lost
        if client_gone and server_gone:
            for timer in self.timers.values():
                if timer is not None:
                    timer.cancel()
            if self.tap._links.pop(self.id, None) is not None and self.admitted is not None:
                self.admitted.leave()
                self.forget_forwarded()

    def fault(self, how: str) -> None:
        """Play a network fault: ``close`` (cut), ``silent`` (a dead path) or ``drop-server``."""
        self.tap.cuts += 1
        self.tap._note(self.id, {"close": "cut", "silent": "silence", "drop-server": "drop"}[how])
        if how == "close":
            self.abort()
        elif how == "silent":
            self.silent = True
        elif how == "drop-server":
            self.silent = True
            if self.server is not None and self.server.transport is not None:
                self.server.transport.abort()


class _End(asyncio.Protocol):
    """One socket of a link: the client's (reads go UP) or the server's (reads go DOWN)."""

    def __init__(self, link: _Link | None, direction: Direction, tap: Tap) -> None:
        self.link = link
        self.direction = direction  # of what this end receives
        self.tap = tap
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        if self.link is None:  # a client arrived: the tap makes its link
            self.tap._accept(self)
        else:
            self.link.server = self

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self.link.carry(self.direction, data)

    def eof_received(self) -> bool:
        if self.link is not None:
            self.link.half_close(self.direction)
        return True  # keep our side open: the other direction may still be sending

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.link.socket_lost(self, exc)

    # the other side's reading follows this side's write buffer (back-pressure)
    def pause_writing(self) -> None:
        other = self._other()
        if other is not None and other.transport is not None:
            other.transport.pause_reading()

    def resume_writing(self) -> None:
        other = self._other()
        if other is not None and other.transport is not None and not other.transport.is_closing():
            other.transport.resume_reading()

    def _other(self) -> _End | None:
        if self.link is None:
            return None
        return self.link.server if self is self.link.client else self.link.client


class Tap:
    """A recording proxy in front of ``target`` (a URL such as ``lab.url``).

    Start it with ``lab.tap(url)`` (which runs it on the lab's loop thread) or,
    inside a coroutine on any loop, ``await Tap(url).start()``.

    Args:
        target: the URL it stands in front of.
        gate: the lab's connection gate, which counts its connections.
        max_recorded: bytes of recording kept (then it only counts).
        loop: the loop thread it is started on, if any: its faults (:meth:`cut` …) and
            :meth:`close` hand their work to it from any thread.
        lab: the lab that started it, if one did (``tap.lab``).
        websockets: a second URL on the same host (the lab's ``ws_url``): requests that ask
            to become a WebSocket go there, all others to ``target``. A browser page then
            reaches both of the lab's servers through the tap's one origin.

    Example::

        tap = lab.tap(lab.url)
        dl.Client(tap.url).get("/api/health")
        print(tap.transcript())
    """

    def __init__(
        self,
        target: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        gate: ConnectionGate | None = None,
        max_recorded: int = MAX_RECORDED,
        loop: LoopThread | None = None,
        lab: Any = None,
        websockets: str | None = None,
    ) -> None:
        parts = urlsplit(target)
        second = urlsplit(websockets) if websockets else None
        if second is not None and (second.hostname != parts.hostname or not second.port):
            raise ValueError(f"the tap's websockets URL must be on {parts.hostname} with a port, not {websockets!r}")
        self._websockets: int | None = second.port if second is not None else None
        if not parts.hostname or not parts.port:
            raise ValueError(f"the tap needs a target URL with a host and a port, not {target!r}")
        self.target = target
        self._parts = parts
        self._target_host, self._target_port = parts.hostname, parts.port
        self.host, self.port = host, port
        self._chunks: list[Chunk] = []
        self._recorded = 0
        self.truncated = 0
        self.max_recorded = max_recorded
        self.gate = gate
        self.lab: Any = lab  # the lab that started it, if one did (lab.tap)
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._loop = loop
        self._links: dict[int, _Link] = {}
        self._tasks: set[asyncio.Task] = set()
        self._watchdog: asyncio.Task | None = None
        self._idle_set: asyncio.Event | None = None  # wakes the watchdog when an idle timeout is set
        self._idle_ticks = 0  # idle checks made
        self.latency = 0.0
        self._idle_timeout: float | None = None
        self.idle_action = "close"
        self.cuts = 0
        self.dropped_bytes = 0
        self._watchers: list[Callable[[Chunk | Note], None]] = []

    @property
    def url(self) -> str:
        """The target URL with the tap's address in place of the server's."""
        return urlunsplit(self._parts._replace(netloc=f"{self.host}:{self.port}"))

    @property
    def ws_url(self) -> str | None:
        """``ws://`` and the tap's address, when it fronts a WebSocket server too (``websockets=``); else None."""
        return f"ws://{self.host}:{self.port}" if self._websockets is not None else None

    @property
    def loop(self) -> LoopThread | None:
        """The loop thread it runs on, when a lab started it (None: a loop of the caller's own)."""
        return self._loop

    @property
    def running(self) -> bool:
        """Whether it listens (started and not closed)."""
        return self._server is not None

    @property
    def open_connections(self) -> int:
        """Client connections the tap is carrying now (a client that left counts no more,
        even while a silenced server side has not noticed yet)."""
        return sum(1 for link in list(self._links.values()) if Direction.UP not in link.lost)

    async def start(self) -> Tap:
        try:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(lambda: _End(None, Direction.UP, self), self.host, self.port)
        except OSError as exc:
            if is_address_in_use(exc):
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._idle_set = asyncio.Event()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_idle())
        return self

    def _record(self, conn: int, direction: Direction, data: bytes) -> None:
        chunk = Chunk(time.perf_counter(), conn, direction, data)
        for watcher in self._watchers:
            watcher(chunk)  # watchers see everything, recorded or not
        if self._recorded + len(data) > self.max_recorded:
            self.truncated += len(data)
            return
        self._recorded += len(data)
        self._chunks.append(chunk)

    def _note(self, conn: int, kind: str, *, dropped: int = 0, direction: Direction | None = None) -> None:
        if self._watchers:
            note = Note(time.perf_counter(), conn, kind, dropped, direction)
            for watcher in self._watchers:
                watcher(note)

    def watch(self, callback: Callable[[Chunk | Note], None]) -> Callable[[], None]:
        """Call ``callback`` on the tap's loop with each chunk it carries and each fault it plays.

        The callback must be quick (append and return): it runs inside the tap's
        carrying. Returns a function that stops the watching. Called on the tap's
        loop together with :meth:`capture` (``tap.loop.call(...)``), the two see every
        chunk once: what was recorded, then what comes.
        """
        self._watchers = [*self._watchers, callback]

        def unwatch() -> None:
            self._watchers = [w for w in self._watchers if w is not callback]

        return unwatch

    def show(self, **options: Any) -> Any:
        """A live sequence diagram of this tap's traffic (:class:`duplexlab.show.Sequence`).

        Show it as a cell's value: ``tap.show()``.
        """
        # the one import up the layers, on first use (tests/test_layout.py: ON_FIRST_USE)
        from .show.widgets.sequence import Sequence

        return Sequence(self, **options)

    # -- accepting clients (on the loop) -----------------------------------------

    def _accept(self, end: _End) -> None:
        """A client connected: make its link and open the tap's own connection to the server."""
        assert end.transport is not None
        admitted = None
        if self.gate is not None:  # two file descriptors: the client's and the tap's own to the server
            admitted = self.gate.admit(end.transport.get_extra_info("peername"), weight=2)
            if admitted is None:
                end.transport.write(self.gate.busy_response())
                end.transport.close()  # the lab is full (or this address is): no fd held once that is sent
                end.link = None
                return
        link = _Link(self, next(self._ids))
        link.client, end.link, link.admitted = end, link, admitted
        self._links[link.id] = link
        task = asyncio.get_running_loop().create_task(link.connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_idle(self) -> None:
        """Cut the links quiet for longer than ``idle_timeout``; asleep while it is None."""
        assert self._idle_set is not None
        while True:
            if self._idle_timeout is None:
                self._idle_set.clear()
                await self._idle_set.wait()
                continue
            await asyncio.sleep(IDLE_TICK)
            self._idle_ticks += 1
            timeout, now = self._idle_timeout, time.perf_counter()
            if timeout is None:
                continue
            for link in list(self._links.values()):
                if not link.silent and now - link.last_activity > timeout:
                    link.fault(self.idle_action)

    # -- faults, from any thread ----------------------------------------------

    def _links_for(self, conn: int | None) -> list[_Link]:
        if conn is None:
            return list(self._links.values())
        return [self._links[conn]] if conn in self._links else []

    def _fault(self, conn: int | None, how: str) -> int:
        def act() -> int:
            links = self._links_for(conn)
            for link in links:
                link.fault(how)
            return len(links)

        if self._loop is None or not self._loop.running:  # started on a loop of one's own, or stopped
            return act()
        return self._loop.call(act, timeout=5)

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
    def idle_timeout(self) -> float | None:
        """Seconds a connection may stay quiet before the tap breaks it (``idle_action``); None: never."""
        return self._idle_timeout

    @idle_timeout.setter
    def idle_timeout(self, value: float | None) -> None:
        self._idle_timeout = value
        wake = self._idle_set
        if value is None or wake is None:
            return  # the watchdog sleeps on; or the tap has not started
        if self._loop is None:
            wake.set()  # a tap started on a loop of one's own is set from that loop
            return
        try:
            self._loop.call_soon(wake.set)
        except RuntimeError:  # LabNotRunningError: the lab stopped, nothing to cut
            pass

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
        policy = getattr(self.lab, "policy", None)
        if server is not None and policy is not None:  # pages served by this tap lose their runner cookies
            for name in ("127.0.0.1", "localhost", "[::1]", self.host):
                policy.revoke_runners(origin=f"http://{name}:{self.port}")
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        for link in list(self._links.values()):
            link.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        await asyncio.sleep(0)  # let the aborted sockets report connection_lost
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
