"""The lab: every server of the course, on one event-loop thread of its own.

``lab = dl.start()`` in a cell starts it once; running the cell again returns
the same lab (one thread, one server of each kind). ``dl.stop()`` ends it, and
so does the end of the Python process.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from websockets.asyncio.client import connect as aconnect
from websockets.sync.client import connect

from .apps import judge, otp, realtime, socket_io
from .apps import notifications as social
from .apps.servers import LessonServers
from .apps.teacher import REMOVE_GRACE, Classroom
from .clients.http import AsyncClient, Client
from .clients.socket_io import SocketIOClient
from .cluster.cluster import Cluster
from .errors import DuplexLabError, LabNotRunningError, OpenDoorError, is_loopback
from .runtime.classroom import Roster
from .runtime.http import HTTPServer
from .runtime.hygiene import ConnectionGate, quiet_server_logs
from .runtime.loop import LoopThread, allow_nested_asyncio_run, raise_open_file_limit
from .runtime.owner import GRACE, Owner, close_shared
from .runtime.policy import RequestPolicy
from .runtime.websocket import LOGGER, ClosingSocket
from .tap import Tap

__all__ = ["REMOVE_GRACE", "Lab", "SocketIOServer", "current", "start", "stop"]

T = TypeVar("T")


class Lab:
    """The course's servers on a background event loop.

    Every request to them passes one :class:`~duplexlab.runtime.policy.RequestPolicy`
    (``lab.policy``; read its docstring for the rules): browsers' pages are
    kept out unless allowed with :meth:`allow_origin`, and requests that name
    another host are refused unless allowed with :meth:`allow_host`.

    Args:
        host: the address to bind; keep 127.0.0.1 so only this machine reaches it (another
            address needs ``classroom=True``, which checks who asks).
        port: the HTTP port; 0 lets the system pick a free one.

    Raises:
        OpenDoorError: ``host`` is not loopback without ``classroom=True``, or a classroom with
            ``servers`` > 1 (a cluster checks no credentials).

    Example::

        with dl.Lab() as lab:
            lab.client().get("/api/health").json()["ok"]   # True
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        servers: int = 1,
        backplane: str | None = "auto",
        classroom: bool = False,
    ) -> None:
        if servers < 1:
            raise ValueError(f"servers is 1 (one lab) or more (a cluster), not {servers}")
        _refuse_open_doors(host, servers, classroom)
        self.host = host
        self.requested_port = port
        self.server_count = servers
        self.backplane_spec = backplane
        self.cluster: Cluster | None = None  # with servers > 1: the server processes, the balancer, the backplane
        self.policy = RequestPolicy(bound_host=host)
        self.gate: ConnectionGate | None = None
        self.loop = LoopThread(name="duplexlab-lab")
        self.notifications = social.NotificationStore()
        self.judge = judge.Judge()
        self.otp = otp.OTPService()
        self.classroom = (
            Classroom(host, loop=self.loop, judge=self.judge, notifications=self.notifications) if classroom else None
        )
        self.roster: Roster | None = self.classroom.roster if self.classroom else None  # join code, credentials
        self._servers: LessonServers | None = None  # while it runs: the HTTP and WebSocket servers
        self._taps: list[Tap] = []
        self._tap_hooks: list[Callable[[Tap], None]] = []  # told of each new tap (diagrams of the whole lab)
        self.owned = Owner("duplexlab-lab")  # clients and sockets handed out, closed with the lab
        self._named_clients: dict[tuple[str, str], SocketIOClient] = {}  # Socket.IO clients by (name, namespace)
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._servers is not None and self.loop.running

    def start(self) -> Lab:
        """Start the loop thread and the servers. Starting twice is harmless.

        It starts in steps, each registering how to undo it; a step that fails
        (a port taken, an interrupt, a cluster that does not come up) undoes the
        steps before it, last first, and raises.
        """
        with self._lock:
            if self.running:
                return self
            raise_open_file_limit()
            quiet_server_logs()
            with contextlib.ExitStack() as undo:
                self.loop.start()
                undo.callback(self.loop.close)
                self._serve(undo)
                self.notifications.bind(self.loop)
                undo.callback(self.notifications.bind, None)
                if self.server_count > 1:
                    self._start_cluster()
                undo.pop_all()  # every step done: nothing to undo
            return self

    def _serve(self, undo: contextlib.ExitStack) -> None:
        """Start the HTTP server, then the WebSocket server, on the loop (a step of :meth:`start`)."""
        servers = LessonServers(
            host=self.host,
            port=self.requested_port,
            policy=self.policy,
            notifications=self.notifications,
            judge=self.judge,
            otp=self.otp,
            classroom=self.classroom,
        )
        self.gate = servers.gate
        servers.start(self.loop, undo)
        self._servers = servers
        undo.callback(self._forget_servers)

    def _forget_servers(self) -> None:
        self._servers = None

    def _start_cluster(self) -> None:
        """Start the server processes, the balancer and the backplane (``servers`` > 1; a step of :meth:`start`)."""
        cluster = Cluster(
            self.server_count, loop=self.loop, backplane=self.backplane_spec, host=self.host, gate=self.gate
        )
        cluster.start()
        if self._servers is not None:  # the lab's own Socket.IO clients are known there by the same key
            cluster.socketio_key = self._servers.socketio.key
        self.cluster = cluster

    def close(self) -> None:
        """Stop every server, tap and client of the lab, then its thread. Twice is harmless.

        Everything closes at once, each with a short grace (:data:`~duplexlab.runtime.owner.GRACE`),
        then what is still open is cut: well under a second, however much is open.
        """
        with self._lock:
            if not self.loop.running:
                self._servers = None
                return
            self.loop.stop_waiting()  # blocking calls in flight end with LabNotRunningError
            self.owned.close_all()
            self._named_clients.clear()
            cluster, self.cluster = self.cluster, None
            if cluster is not None:
                cluster.close()
            taps, self._taps = self._taps, []
            servers = self._servers

            async def shutdown() -> None:
                await asyncio.gather(*(tap.aclose() for tap in taps), self.judge.aclose(), return_exceptions=True)
                if servers is not None:
                    await servers.aclose()

            try:
                self.loop.run(shutdown(), 10)
            finally:
                self.notifications.bind(None)
                self._servers = None
                self.loop.close(timeout=GRACE)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"serving {self.url}" if self.running else "stopped"
        return f"<Lab {state}>"

    # -- what it serves ------------------------------------------------------

    def _require(self) -> HTTPServer:
        if self._servers is None or self._servers.http is None or not self.loop.running:
            raise LabNotRunningError()
        return self._servers.http

    @property
    def url(self) -> str:
        """The base URL of the lab's HTTP server, e.g. ``http://127.0.0.1:40123``."""
        return self._require().url

    @property
    def port(self) -> int:
        return self._require().port

    @property
    def ws_url(self) -> str:
        """The base URL of the lab's WebSocket server, e.g. ``ws://127.0.0.1:40125``."""
        return self.websockets.url

    @property
    def servers(self) -> dict[str, str]:
        """Each kind of server the lab runs, with its URL."""
        return {"http": self.url, "websocket": self.ws_url}

    @property
    def websockets(self) -> realtime.RealtimeServer:
        """The WebSocket server: its ``records`` of every connection, its chat ``room``."""
        self._require()
        if self._servers is None or self._servers.ws is None:
            raise LabNotRunningError()
        return self._servers.ws

    def publish(self, topic: str, data: object) -> None:
        """Publish ``data`` on ``/stream/<topic>`` (numbered, kept for replay). From any thread.

        Raises:
            ValueError: a bad topic name, or too many topics.
        """
        ws = self.websockets
        if self.loop.on_loop_thread:
            ws.topic(topic).publish(data)
            return
        realtime.valid_topic(topic)
        self.call_soon(lambda: ws.topic(topic).publish(data))

    def allow_origin(self, origin: str) -> str:
        """Let browser pages from ``origin`` (e.g. ``http://localhost:8888``) use the lab.

        They may then open WebSockets and send JSON requests. Allow only pages
        you trust: they can do in the lab whatever a cell can. Returns the
        origin as the policy keeps it (lower case, default port left out).
        """
        return self.policy.allow_origin(origin)

    def allow_host(self, host: str) -> None:
        """Answer requests whose ``Host`` is ``host`` (``"name"``: any port; ``"name:port"``: one).

        Needed only when something reaches the lab under another name than
        127.0.0.1 or localhost (a proxy that keeps the browser's ``Host``).
        """
        self.policy.allow_host(host)

    def issue_token(self, user: str, *, ttl: float = realtime.TOKEN_TTL) -> str:
        """A secret token for ``/private/<user>``, valid ``ttl`` seconds (default one hour).

        Send it in the first message, ``{"type": "auth", "token": ...}``, never in the URL.
        """
        return self.websockets.issue_token(user, ttl=ttl)

    @property
    def ws_connections(self) -> int:
        """How many WebSocket connections are open on the lab right now."""
        return len(self.websockets.open_connections)

    # -- running things on the lab's loop ------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30) -> T:
        """Run a coroutine on the lab's loop and wait for it (a plain call)."""
        return self.loop.run(coro, timeout)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the lab's loop; ``await`` it from another loop."""
        return await self.loop.wrap(coro)

    def call_soon(self, callback, *args) -> None:
        """Call ``callback(*args)`` on the lab's loop, safely from any thread."""
        self.loop.call_soon(callback, *args)

    # -- the social app's notifications --------------------------------------

    def notify(self, user: str, text: str, *, kind: str = "message", private: bool = False) -> social.Notification:
        """Make the server create a notification for ``user`` now (no request involved).

        ``private=True`` (a direct message, a code): it travels only on the
        token-checked ``/private/<user>`` WebSocket, never on the open channels.
        """
        self._require()
        add = functools.partial(self.notifications.add, user, text, kind=kind, private=private)
        return self.loop.call(add, timeout=5)

    def schedule(self, delay: float, user: str, text: str, *, kind: str = "message") -> float:
        """Make the server create a notification ``delay`` seconds from now.

        Returns the moment it is due, on the lab clock (``time.perf_counter()``).
        """
        social.valid_user(user)
        self._require()
        due = time.perf_counter() + delay

        def later() -> None:
            asyncio.get_running_loop().call_later(
                max(0.0, due - time.perf_counter()),
                lambda: self.notifications.add(user, text, kind=kind),
            )

        self.call_soon(later)
        return due

    # -- things that talk to it ----------------------------------------------

    def client(self, base_url: str | None = None, **kwargs) -> Client:
        """A blocking :class:`Client` whose requests run on the lab's loop.

        The lab closes it when the lab stops.
        """
        self._require()
        if self.classroom is not None:
            kwargs["headers"] = self.classroom.with_credential(kwargs.get("headers"))
        return Client(base_url or self.url, loop=self.loop, owner=self.owned, **kwargs)

    def async_client(self, base_url: str | None = None, **kwargs) -> AsyncClient:
        """An :class:`AsyncClient` for ``await`` in a cell; close it with ``await c.aclose()``."""
        if self.classroom is not None:
            kwargs["headers"] = self.classroom.with_credential(kwargs.get("headers"))
        return AsyncClient(base_url or self.url, **kwargs)

    def connect(self, path: str, *, base_url: str | None = None, **options):
        """Open a WebSocket to the lab with the ``websockets`` sync client (a plain call).

        ``path`` is e.g. ``"/chat?name=asha"``; ``base_url`` lets you go through a
        tap (``tap.url``). Compression is off so a tap shows the payloads as they
        are. The lab closes it when the lab stops; close it yourself with ``.close()``.
        """
        self._require()
        options = {"proxy": None, "compression": None, "open_timeout": 10, "legacy": True, "logger": LOGGER, **options}
        if self.classroom is not None:
            options["additional_headers"] = self.classroom.with_credential(options.get("additional_headers"))
        ws = connect((base_url or self.ws_url) + path, **options)
        self.owned.own(ClosingSocket(ws))
        return ws

    def aconnect(self, path: str, *, base_url: str | None = None, **options):
        """Open a WebSocket with the ``websockets`` asyncio client: ``ws = await lab.aconnect(...)``.

        Also works as ``async with lab.aconnect(path) as ws:``. It runs on the
        loop that awaits it (the notebook's); close it with ``await ws.close()``.
        """
        self._require()
        options = {"proxy": None, "compression": None, "open_timeout": 10, "logger": LOGGER, **options}
        return aconnect((base_url or self.ws_url) + path, **options)

    # -- Socket.IO (lesson 10) ---------------------------------------------------

    def socketio(
        self, *, ping_interval: float | None = None, ping_timeout: float | None = None, upgrades: bool | None = None
    ) -> SocketIOServer:
        """Start the lab's Socket.IO server at ``/socket.io/`` (python-socketio), or return it if it runs.

        With no arguments, a running server is returned as it is. With settings that differ from the
        running server's, it restarts with them (its clients are disconnected); a setting left out
        takes its default.

        Args:
            ping_interval: seconds between the server's pings (Engine.IO 4: the server pings); default 25.
            ping_timeout: seconds the server waits for a pong before it gives the client up; default 20.
            upgrades: False refuses the upgrade to a WebSocket: clients stay on long polling. Default True.

        Raises:
            DuplexLabError: in classroom mode (Socket.IO is for a lab of your own).
        """
        self._require()
        if self.classroom is not None:
            raise DuplexLabError(
                "a classroom lab does not serve Socket.IO: it would check no student's credential; "
                "run lesson 10 on a lab of your own (dl.start())"
            )
        assert self._servers is not None
        host = self._servers.socketio
        if host.options is None or (ping_interval, ping_timeout, upgrades) != (None, None, None):
            default = socket_io.Options()
            options = socket_io.Options(
                default.ping_interval if ping_interval is None else ping_interval,
                default.ping_timeout if ping_timeout is None else ping_timeout,
                default.upgrades if upgrades is None else upgrades,
            )
            self.run(host.start(options), 10)
        return SocketIOServer(self, host)

    def socketio_client(
        self,
        *,
        base_url: str | None = None,
        namespace: str = "/chat",
        name: str | None = None,
        transports: list[str] | None = None,
        timeout: float = 10.0,
    ) -> SocketIOClient:
        """A connected Socket.IO client (python-socketio's, on the lab's loop); ``base_url=tap.url`` to watch it.

        ``transports=["polling"]`` never upgrades; ``timeout`` is seconds to connect. A name stands
        for one client: asking again with the same name (and namespace) closes the earlier one, so a
        cell run twice leaves one Asha. The lab closes every client when the lab stops.
        """
        self._require()
        if name is not None and (earlier := self._named_clients.pop((name, namespace), None)) is not None:
            earlier.close()
        client = SocketIOClient(
            base_url or self.url,
            loop=self.loop,
            namespace=namespace,
            name=name,
            transports=transports,
            owner=self.owned,
            timeout=timeout,
            headers={socket_io.KEY_HEADER: self._servers.socketio.key} if self._servers is not None else None,
        ).connect()
        if name is not None:
            self._named_clients[(name, namespace)] = client
        return client

    # -- classroom mode ---------------------------------------------------------

    def join_line(self) -> str:
        """The line students paste to join this classroom lab (classroom mode only)."""
        if self.classroom is None:
            raise ValueError("this lab is not in classroom mode; start it with dl.start(classroom=True, host=...)")
        return self.classroom.join_line(self.url)

    def remove_student(self, name: str) -> int:
        """Remove ``name`` from the class and end everything they hold; returns how many sockets closed.

        Their credential is revoked; their sockets get 1008 and :data:`REMOVE_GRACE` seconds to finish
        the close, then are cut (a student who never answers never holds the teacher up); their event
        streams and long polls end with the reason; their judge submissions still waiting are cancelled.
        Returns within a second, whatever the student does; what it ended is kept, in words, in
        ``lab.roster.named(name).removal`` (the dashboard shows it).

        Raises:
            ValueError: no such student in the class (or the teacher's own name).
        """
        if self.classroom is None:
            raise ValueError("this lab is not in classroom mode")
        return self.classroom.remove(name, self.websockets)

    def tap(self, target: str | None = None, *, port: int = 0, websockets: bool = False) -> Tap:
        """Start a recording proxy in front of ``target`` (default: the lab's HTTP server).

        With ``websockets=True`` (and no ``target``) it fronts both of the lab's servers:
        WebSocket handshakes go to the WebSocket server, all else to the HTTP server, so
        a browser page (``dl.show.BrowserCode``) reaches both through one origin.
        It listens where the lab does when it fronts the lab itself (in a classroom, the lab
        behind it checks every student's credential); in front of anything else it stays on
        127.0.0.1, since nothing there would check who asks.
        """
        self._require()
        if websockets and target is not None:
            raise ValueError("lab.tap(websockets=True) fronts the lab's own two servers: give no target")
        target = target or self.url
        host = self.host if target.startswith((self.url, self.ws_url)) else "127.0.0.1"
        second = self.ws_url if websockets else None
        tap = Tap(target, host=host, port=port, gate=self.gate, loop=self.loop, lab=self, websockets=second)
        self.run(tap.start(), 10)
        self._taps.append(tap)
        for hook in list(self._tap_hooks):
            hook(tap)
        return tap

    @property
    def taps(self) -> list[Tap]:
        """The taps the lab started and runs now, oldest first."""
        return list(self._taps)

    def on_tap(self, callback: Callable[[Tap], None]) -> Callable[[], None]:
        """Call ``callback(tap)`` with each tap the lab starts from now on; returns the function that stops it.

        It runs in the thread that called :meth:`tap`, once the tap listens.
        """
        self._tap_hooks.append(callback)

        def stop_telling() -> None:
            if callback in self._tap_hooks:
                self._tap_hooks.remove(callback)

        return stop_telling


class SocketIOServer:
    """The lab's running Socket.IO server, seen from a cell (``lab.socketio()`` returns one)."""

    def __init__(self, lab: Lab, host: socket_io.SocketIOHost) -> None:
        self.lab, self._host = lab, host

    @property
    def options(self) -> socket_io.Options | None:
        return self._host.options

    def sessions(self) -> int:
        """Engine.IO sessions open now."""
        return self.lab.loop.call(self._host.sessions, timeout=5)

    def transports(self) -> dict[str, str]:
        """Each session's transport now (``"polling"`` or ``"websocket"``), by session id."""
        return self.lab.loop.call(self._host.transports, timeout=5)

    def __repr__(self) -> str:
        options = self._host.options
        return f"<{socket_io.describe(options)}>" if options is not None else "<Socket.IO server: stopped>"


def _refuse_open_doors(host: str, servers: int, classroom: bool) -> None:
    """Raise :class:`OpenDoorError` where a lab would serve others with nothing checking who asks."""
    if classroom and servers > 1:
        raise OpenDoorError(host, servers=servers, classroom=True)
    if not classroom and not is_loopback(host):
        raise OpenDoorError(host, servers=servers)


_current: Lab | None = None
_current_lock = threading.Lock()


def start(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    servers: int = 1,
    backplane: str | None = "auto",
    classroom: bool = False,
) -> Lab:
    """Start the course's lab, or return the one already running.

    Run the cell as often as you like: the same settings give back the same
    lab; other settings stop the old one first. In a notebook it also lets
    ``asyncio.run(...)`` work in cells (top-level ``await`` works anyway).

    Args:
        servers: more than 1 also starts a cluster (``lab.cluster``): that many server
            processes behind a load balancer (lesson 09).
        backplane: what joins the cluster's servers: ``"auto"`` (a real ``redis-server``
            if installed, else an embedded one; ``$DUPLEXLAB_BACKPLANE`` overrides the choice),
            ``"redis-server"``, ``"embedded"``, a
            ``redis://`` URL of your own Redis or Valkey, or None (nothing: each server
            knows only what it created).
        classroom: share this lab with a class (the teacher's side): it listens on ``host``
            only (give the one LAN address students reach; 127.0.0.1 rehearses on one
            machine), prints the join line, and every request and socket then needs a
            student's credential (:mod:`duplexlab.runtime.classroom`). A classroom runs one
            server (no cluster); a lab on an address other than 127.0.0.1 needs it.

    Raises:
        PortInUseError: ``port`` is fixed and another program holds it.
        OpenDoorError: ``host`` is not loopback and ``classroom`` is off, or ``classroom`` with
            ``servers`` > 1; the lab already running goes on.
    """
    global _current
    _refuse_open_doors(host, servers, classroom)
    allow_nested_asyncio_run()
    with _current_lock:
        lab = _current
        if lab is not None and lab.running:
            same_cluster = lab.server_count == servers and (servers == 1 or lab.backplane_spec == backplane)
            same_mode = (lab.roster is not None) == classroom
            if lab.host == host and port in (0, lab.port) and same_cluster and same_mode:
                return lab
            lab.close()
        _current = Lab(host=host, port=port, servers=servers, backplane=backplane, classroom=classroom).start()
        if classroom:
            print(f"classroom lab on {_current.url}; students paste:\n    {_current.join_line()}")
        return _current


def current() -> Lab:
    """The lab that :func:`start` started; raises if there is none."""
    if _current is None or not _current.running:
        raise LabNotRunningError()
    return _current


def stop() -> None:
    """Stop the lab that :func:`start` started, and everything handed out without a lab.

    Clients, sockets, resilient followers, taps and the judge's processes all
    close at once; it takes well under a second. Harmless when nothing runs.
    """
    global _current
    with _current_lock:
        lab, _current = _current, None
    if lab is not None:
        lab.close()
    close_shared()


atexit.register(stop)
