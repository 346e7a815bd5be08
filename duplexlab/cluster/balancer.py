"""The load balancer: one address in front of several servers, choosing one per connection.

It reads a new connection's first request head (with h11: nothing here
hand-parses HTTP), picks a server, opens a connection to it, passes on what it
read and then copies bytes both ways until either side closes. Round robin
by default; with ``sticky`` on, a request that names a server with a
``?server=B`` query or the ``dl-server=B`` cookie (which every server sets)
goes to that server, as a load balancer's sticky sessions do.

Each connection holds two of the lab's file descriptors (the client's and its
own to the server), so it is counted, with that weight, at the lab's
:class:`~duplexlab.runtime.hygiene.ConnectionGate` like every other server's,
through the door ``"balancer"``, which holds at most :data:`SHARE` of it: a
flood through the balancer gets ``503`` beyond that, and the lab's own servers
keep their room.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import socket
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import h11

from ..runtime.hygiene import ConnectionGate, Pass

__all__ = ["SHARE", "Balancer", "pick"]

MAX_HEAD = 64 * 1024
SHARE = 0.5  # of the lab's connection gate, for the balancers together
HEAD_TIMEOUT = 10.0
READ_SIZE = 64 * 1024


def pick(target: str, cookie: str, names: list[str], turn: int, *, sticky: bool) -> str:
    """The server for a request: the one it names if sticky (query ``server``, then cookie ``dl-server``),
    else the next in turn."""
    if sticky:
        wanted = parse_qs(urlsplit(target).query).get("server", [""])[0]
        if not wanted and cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:
                jar = SimpleCookie()
            wanted = jar["dl-server"].value if "dl-server" in jar else ""
        if wanted in names:
            return wanted
    return names[turn % len(names)]


class Balancer:
    """Listens on one port and spreads connections over ``backends()``: a list of (name, port).

    Start with ``await balancer.start()`` on a loop; ``assigned`` counts connections per server,
    ``recent`` lists the last thousand choices in order.
    """

    def __init__(
        self,
        backends: Callable[[], list[tuple[str, int]]],
        *,
        host: str = "127.0.0.1",
        gate: ConnectionGate | None = None,
    ) -> None:
        self.backends = backends
        self.host = host
        self.gate = gate or ConnectionGate()
        self.gate.shares.setdefault("balancer", SHARE)
        self.port = 0
        self.sticky = False
        self.assigned: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[str] = collections.deque(maxlen=1000)  # the last choices, in order
        self._turns = itertools.count()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Balancer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, 0)  # accepts 100 at a time
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _protocol(self) -> asyncio.StreamReaderProtocol:
        """A connection's protocol: asked at the gate first, so one refused costs no reader, writer or task."""
        gate = self.gate
        reader = asyncio.StreamReader(limit=MAX_HEAD)
        handle = self._handle

        class Gated(asyncio.StreamReaderProtocol):
            admitted: Pass | None = None

            def connection_made(self, transport) -> None:
                self.admitted = gate.admit(transport.get_extra_info("peername"), weight=2, door="balancer")
                if self.admitted is None:  # the lab (or the balancers' share of it) is full: say so, hold nothing
                    transport.write(gate.busy_response())
                    transport.close()
                    return
                super().connection_made(transport)

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
            assert protocol.admitted is not None
            return handle(reader, writer, protocol.admitted)

        protocol = Gated(reader, connected)
        return protocol

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, admitted: Pass) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            head, request = await asyncio.wait_for(self._read_head(reader), HEAD_TIMEOUT)
            if request is None:
                return
            names = dict(self.backends())
            cookie = next((v.decode("latin-1") for k, v in request.headers if k == b"cookie"), "")
            name = pick(request.target.decode("latin-1"), cookie, list(names), next(self._turns), sticky=self.sticky)
            self.assigned[name] += 1
            self.recent.append(name)
            up_reader, upstream = await asyncio.open_connection(self.host, names[name])
            self._writers.add(upstream)
            for w in (writer, upstream):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.write(head)
            await asyncio.gather(self._copy(reader, upstream), self._copy(up_reader, writer))
        except (OSError, TimeoutError, h11.RemoteProtocolError):
            pass
        finally:
            for end in (writer, upstream):
                if end is not None:
                    end.close()
                    self._writers.discard(end)
            admitted.leave()
            if task is not None:
                self._tasks.discard(task)

    async def _read_head(self, reader: asyncio.StreamReader) -> tuple[bytes, h11.Request | None]:
        parser = h11.Connection(h11.SERVER)
        head = b""
        while len(head) < MAX_HEAD:
            data = await reader.read(READ_SIZE)
            if not data:
                return head, None
            head += data
            parser.receive_data(data)
            event = parser.next_event()
            if isinstance(event, h11.Request):
                return head, event
        return head, None

    @staticmethod
    async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(READ_SIZE):
                sink.write(data)
                await sink.drain()
        finally:
            if sink.can_write_eof() and not sink.is_closing():
                try:
                    sink.write_eof()
                except OSError:
                    pass

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for end in list(self._writers):  # cut every connection: each handler then ends by itself
            end.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        for task in list(self._tasks):
            task.cancel()
        if server is not None:
            await server.wait_closed()
