"""Several server processes behind the lab's load balancer, with or without a backplane.

``dl.start(servers=3)`` makes one (``lab.cluster``); ``dl.stop()`` ends it: the
balancer closes, every server process and the backplane process we started
are stopped (killed if they do not go within a second), and their ports close.

Example::

    lab = dl.start(servers=3, backplane=None)      # three servers, nothing joining them
    lab.cluster.notify("meera", "hi", on="A")      # created on server A only
    lab.cluster.ws_url                             # the balancer: connections go A, B, C, A, …
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ClusterError, OpenDoorError, is_loopback
from ..runtime.hygiene import ConnectionGate
from ..runtime.loop import LoopThread
from .backplane import Backplane, start_backplane
from .balancer import Balancer

LOGGER = logging.getLogger("duplexlab.cluster")

__all__ = ["Cluster", "ClusterError", "Node"]

START_TIMEOUT = 20.0
COMMAND_TIMEOUT = 10.0
NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Node:
    """One server process: its name (A, B, …), its ports, and the line to it (its stdin and stdout)."""

    name: str
    process: subprocess.Popen = field(repr=False)
    log: Path
    http_port: int = 0
    ws_port: int = 0
    _buffer: bytes = field(default=b"", repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: Any = field(default_factory=itertools.count, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def said(self) -> str:
        """Where its log is, with its last lines (for an error: the folder may be gone by the time one reads)."""
        try:
            last = self.log.read_text(errors="replace").splitlines()[-3:]
        except OSError:
            last = []
        return f"its log: {self.log}" + ("; it ends: " + " | ".join(last) if last else ", empty")

    def _line(self, deadline: float) -> dict:
        """The next JSON line the server printed (waits until ``deadline``)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ClusterError(f"server {self.name} did not answer in time ({self.said()})")
                data = os.read(fd, 65536)
                if not data:
                    raise ClusterError(f"server {self.name} has stopped ({self.said()})")
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def command(self, op: str, timeout: float = COMMAND_TIMEOUT, **fields: Any) -> Any:
        """Send one command and return its result (from any thread, one at a time per server)."""
        with self._lock:
            number = next(self._ids)
            assert self.process.stdin is not None
            try:
                self.process.stdin.write((json.dumps({"op": op, "id": number, **fields}) + "\n").encode())
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                raise ClusterError(f"server {self.name} has stopped ({self.said()})") from None
            deadline = time.monotonic() + timeout
            while True:
                answer = self._line(deadline)
                if answer.get("id") == number or answer.get("id") is None:
                    break
        if "error" in answer:
            raise ValueError(f"server {self.name}: {answer['error']}")
        return answer["result"]


class Cluster:
    """``n`` server processes, the backplane (or none), and two balancers on the lab's loop.

    Args:
        n: how many server processes (2 to 26).
        loop: the lab's loop thread (the balancers run there).
        backplane: ``"auto"``, ``"redis-server"``, ``"embedded"``, a ``redis://`` URL, or None for no backplane.
        host: where the servers, balancers and backplane listen: a loopback address, since none of
            them checks who asks (a classroom runs no cluster).
        gate: the lab's connection gate; the balancers' connections count there, with at most half of
            it (:data:`.balancer.SHARE`).

    Raises:
        OpenDoorError: ``host`` is not a loopback address.
    """

    def __init__(
        self,
        n: int,
        *,
        loop: LoopThread,
        backplane: str | None = "auto",
        host: str = "127.0.0.1",
        gate: ConnectionGate | None = None,
    ) -> None:
        if not 2 <= n <= len(NAMES):
            raise ValueError(f"servers is between 2 and {len(NAMES)} for a cluster, not {n}")
        if not is_loopback(host):
            raise OpenDoorError(host, servers=n)
        self.n = n
        self.host = host
        self.spec = backplane
        self._loop = loop
        self.backplane: Backplane | None = None
        self.nodes: list[Node] = []
        gate = gate or ConnectionGate()  # the lab's: the balancers count there like its other servers
        self.http = Balancer(lambda: [(node.name, node.http_port) for node in self.nodes], host=host, gate=gate)
        self.ws = Balancer(lambda: [(node.name, node.ws_port) for node in self.nodes], host=host, gate=gate)
        self._logs = Path(tempfile.mkdtemp(prefix="duplexlab-cluster-"))
        self._turn = itertools.count()
        self.socketio_key = secrets.token_urlsafe(24)  # the lab's own Socket.IO clients send it (a header)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Cluster:
        try:
            if self.spec is not None:
                self.backplane = start_backplane(self.spec, host=self.host)
            # a fresh log for every cluster, under a random prefix of its own (128 bits)
            key = self._key = f"duplexlab:{secrets.token_hex(16)}:log"
            config = json.dumps({"backplane": self.backplane.url if self.backplane else "", "key": key}) + "\n"
            for name in NAMES[: self.n]:
                log = self._logs / f"server-{name}.log"
                with open(log, "wb") as err:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "duplexlab.cluster.node", name, self.host],
                        stdin=subprocess.PIPE,  # the line to it; when it closes (the lab ends), the server stops
                        stdout=subprocess.PIPE,
                        stderr=err,  # to a file: a pipe nobody reads would block it
                        start_new_session=True,
                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    )
                self.nodes.append(Node(name, proc, log))
                assert proc.stdin is not None
                with contextlib.suppress(OSError):  # it ended already: said when it is not ready
                    proc.stdin.write(config.encode())  # the backplane's URL and password: on its pipe, never argv
                    proc.stdin.flush()
            deadline = time.monotonic() + START_TIMEOUT
            for node in self.nodes:
                ready = node._line(deadline)
                node.http_port, node.ws_port = ready["http"], ready["ws"]

            async def listen() -> None:
                await self.http.start()
                await self.ws.start()

            self._loop.run(listen(), 10)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the balancers, every server process and the backplane we started; on a Redis you gave
        (a ``redis://`` URL), delete this cluster's log. The servers' log folder goes too, unless a
        server ended on its own or had to be killed (then it stays, and a warning names it). Twice is
        harmless."""
        if self._loop.running:
            with contextlib.suppress(Exception):
                self._loop.run(self._close_balancers(), 5)
        nodes, self.nodes = self.nodes, []
        for node in nodes:
            with contextlib.suppress(OSError, ValueError):
                assert node.process.stdin is not None
                node.process.stdin.close()  # a server stops when its input ends
        deadline = time.monotonic() + 1.0
        for node in nodes:
            try:
                node.process.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(2)
            if node.process.stdout is not None:
                node.process.stdout.close()
        key: str = getattr(self, "_key", "")  # set by start()
        if self.backplane is not None:
            if self.backplane.process is None and key:  # your Redis: leave it as we found it
                with contextlib.suppress(Exception):
                    import redis

                    with redis.Redis.from_url(self.backplane.url, socket_timeout=2, socket_connect_timeout=2) as r:
                        r.delete(key)
                self._key = ""
            self.backplane.close()
        # the servers' logs go with them (a day of classes left a hundred folders in /tmp), unless one ended
        # on its own or had to be killed: then its folder stays, and the warning says where
        failed = [f"{node.name} (exit code {node.process.returncode})" for node in nodes if node.process.returncode]
        if failed:
            LOGGER.warning("cluster server %s ended badly; its log is kept in %s", ", ".join(failed), self._logs)
        else:
            shutil.rmtree(self._logs, ignore_errors=True)

    async def _close_balancers(self) -> None:
        await self.http.aclose()
        await self.ws.aclose()

    # -- what it serves --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The balancer for HTTP: ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.http.port}"

    @property
    def ws_url(self) -> str:
        """The balancer for WebSockets: ``ws://127.0.0.1:<port>``."""
        return f"ws://{self.host}:{self.ws.port}"

    @property
    def sticky(self) -> bool:
        """Sticky sessions: a request naming a server (``?server=B`` or the ``dl-server`` cookie) goes there."""
        return self.http.sticky

    @sticky.setter
    def sticky(self, value: bool) -> None:
        self.http.sticky = self.ws.sticky = bool(value)

    @property
    def names(self) -> list[str]:
        return [node.name for node in self.nodes]

    def node(self, name: str | int) -> Node:
        """A server by name (``"A"``) or index (0)."""
        if isinstance(name, int):
            return self.nodes[name]
        for node in self.nodes:
            if node.name == name:
                return node
        raise ValueError(f"no server {name!r}; the servers are {', '.join(self.names)}")

    def server_url(self, name: str | int, *, ws: bool = False) -> str:
        """One server's own address, around the balancer."""
        node = self.node(name)
        return f"ws://{self.host}:{node.ws_port}" if ws else f"http://{self.host}:{node.http_port}"

    # -- commands, from any thread ---------------------------------------------------------

    def notify(self, user: str, text: str, *, on: str | int | None = None, kind: str = "message") -> str:
        """Create a notification on server ``on`` (default: the next in turn); returns that server's name."""
        node = self.node(next(self._turn) % self.n if on is None else on)
        node.command("notify", user=user, text=text, kind=kind)
        return node.name

    def publish(self, topic: str, *data: object, on: str | int | None = None) -> str:
        """Publish messages on ``/stream/<topic>`` from server ``on``, in order; returns its name."""
        node = self.node(next(self._turn) % self.n if on is None else on)
        node.command("publish", topic=topic, data=list(data))
        return node.name

    def socketio(self, *, upgrades: bool = True, ping_interval: float = 25.0, ping_timeout: float = 20.0) -> None:
        """Start Socket.IO at ``/socket.io/`` on every server (lesson 10's deep dive), each with
        python-socketio's Redis manager on the backplane, so a room spans the servers. Without a
        backplane each server's rooms are its own. Twice is harmless; other settings restart them."""
        for node in self.nodes:  # the key goes on the server's input, never its command line
            node.command(
                "socketio",
                upgrades=upgrades,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                key=self.socketio_key,
            )

    def stats(self) -> dict[str, dict]:
        """Each server's open WebSockets, notifications held, CPU seconds used, log entries applied and
        skipped (``skipped``: entries that were not the log's schema), and ``backplane_error``: what is
        wrong with the backplane in words ("" when nothing is)."""
        return {node.name: node.command("stats") for node in self.nodes}

    def describe(self) -> str:
        """One line: the servers, the balancers, the backplane, and what is wrong with it, if anything."""
        text = self._summary()
        if self.backplane is not None and self.nodes:
            try:
                trouble = {name: s["backplane_error"] for name, s in self.stats().items() if s["backplane_error"]}
            except (ClusterError, ValueError) as exc:
                trouble = {"?": str(exc)}
            for name, error in trouble.items():
                text += f"\n  server {name}: {error}"
        return text

    def _summary(self) -> str:
        plane = self.backplane.kind if self.backplane else "no backplane"
        return f"{self.n} servers ({', '.join(self.names)}) behind {self.url} and {self.ws_url}; {plane}"

    def __repr__(self) -> str:
        return f"<Cluster {self._summary()}>"
