"""Every error duplexlab raises on purpose, each with a message a student can act on.

The tree::

    DuplexLabError
    ├── PortInUseError      a fixed port is taken by another program
    ├── LabNotRunningError  the lab was used after it was stopped
    ├── HTTPStatusError     the server answered 4xx or 5xx
    ├── OpenDoorError       a lab would serve a network with no credential check
    ├── JoinRefused         a classroom's door said no: a wrong code, a name or seats taken, too fast
    ├── LimitError          a classroom limit was set to something it cannot be
    ├── CheckFailed         an exercise check found a mistake
    ├── ClusterError        a server process of a cluster did not start or did not answer
    │   └── BackplaneError  the backplane (Redis, redis-server, embedded fakeredis) did not start or answer
    ├── JudgeBusy           the judge's queue is full (duplexlab.apps.judge)
    │   └── SubmitterBusy   one student already has their share of it
    ├── OTPError            the OTP service refused, with a status and a hint (duplexlab.apps.otp)
    ├── BadEntry            a cluster log entry that is not the log's schema (duplexlab.cluster.entry)
    └── SocketIOError       a Socket.IO client could not connect, or no answer came (duplexlab.clients.socket_io)

The errors of one app live in its module; each also keeps the built-in base that
code catches it by (``ClusterError`` is a ``RuntimeError``, ``BadEntry`` a
``ValueError``), and a test holds that every exception class in the package is
a ``DuplexLabError``.
"""

from __future__ import annotations

import errno
import ipaddress

__all__ = [
    "BackplaneError",
    "CheckFailed",
    "ClusterError",
    "DuplexLabError",
    "HTTPStatusError",
    "JoinRefused",
    "LabNotRunningError",
    "LimitError",
    "OpenDoorError",
    "PortInUseError",
    "is_address_in_use",
    "is_loopback",
]

# "Address already in use": 98 on Linux, 48 on macOS and the BSDs, WSAEADDRINUSE (10048) on Windows.
_ADDRESS_IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE), 10048}


def is_address_in_use(exc: OSError) -> bool:
    """Whether binding failed because the address is taken, on any platform."""
    return exc.errno in _ADDRESS_IN_USE or getattr(exc, "winerror", None) == 10048


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another name, or "" (every interface)


class DuplexLabError(Exception):
    """Base class of the errors duplexlab raises.

    In a notebook it shows as one line with its hint, not a traceback through
    the lab's threads (IPython calls ``_render_traceback_``).
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class PortInUseError(DuplexLabError, OSError):
    """A server could not bind because the port is taken.

    Args:
        host: the address the server tried to bind.
        port: the port that was taken.
    """

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return (
            f"port {self.port} on {self.host} is taken by another program "
            f"(or by a lab started elsewhere); start the lab with port=0 to let "
            f"the system pick a free port, or stop the program that holds {self.port}"
        )


class LabNotRunningError(DuplexLabError, RuntimeError):
    """The lab (or one of its servers) was used after it was stopped."""

    def __init__(self, what: str = "the lab") -> None:
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:
        return f"{self.what} is not running; run `lab = dl.start()` again"


class HTTPStatusError(DuplexLabError):
    """The server answered with a 4xx or 5xx status.

    Args:
        method: the request method.
        url: the URL that was requested.
        status: the status code of the answer.
        error: the server's ``error`` field, if it sent one.
        hint: the server's ``hint`` field: what to do about it.
    """

    def __init__(self, method: str, url: str, status: int, error: str = "", hint: str = "") -> None:
        super().__init__(method, url, status, error, hint)
        self.method = method
        self.url = url
        self.status = status
        self.error = error
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.method} {self.url} answered {self.status}"
        if self.error:
            text += f": {self.error}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class OpenDoorError(DuplexLabError, ValueError):
    """The lab was asked to serve a network beyond this machine where nothing would check who asks.

    Only classroom mode checks credentials, and only on its one server: a lab on another address
    than loopback needs ``classroom=True``, and a classroom lab runs no cluster (its server
    processes, balancers and backplane check no credential).

    Args:
        host: the address the lab was to bind.
        servers: how many servers were asked for (more than 1: a cluster).
        classroom: whether classroom mode was asked for.
    """

    def __init__(self, host: str, *, servers: int = 1, classroom: bool = False) -> None:
        super().__init__(host, servers, classroom)
        self.host = host
        self.servers = servers
        self.classroom = classroom

    def __str__(self) -> str:
        if self.servers > 1 and self.classroom:
            return (
                f"a classroom lab runs one server: a cluster's {self.servers} servers, balancers and backplane "
                "check no credentials, so every student could use them as anyone; start the classroom with "
                "servers=1, and show the cluster (lesson 09) on a lab of your own: dl.start(servers=3)"
            )
        if self.servers > 1:
            return (
                f"a cluster stays on 127.0.0.1, not {self.host!r}: its {self.servers} servers, balancers and "
                "backplane check no credentials; start it with dl.start(servers=3), on this machine only"
            )
        return (
            f"a lab on {self.host!r} would serve everyone who reaches that address, with no credential; "
            f'to share it with a class, pass classroom=True: dl.start(classroom=True, host="{self.host}"); '
            "otherwise keep the default host, 127.0.0.1"
        )


class JoinRefused(DuplexLabError, PermissionError):
    """A classroom's door refused a join; the lab answers it with ``status`` and the hint.

    Args:
        status: 403 (a wrong code; an address that holds its seats), 409 (a name that already has a
            seat from that address) or 429 (too many failed joins from that address: one a second).
        error: what was wrong.
        hint: what to do instead.
        retry_after: seconds before trying again is worth it (429), else 0.
    """

    def __init__(self, status: int, error: str, hint: str, *, retry_after: int = 0) -> None:
        super().__init__(status, error, hint)
        self.status, self.error, self.hint, self.retry_after = status, error, hint, retry_after

    def __str__(self) -> str:
        return f"{self.error}; {self.hint}"


class LimitError(DuplexLabError, ValueError):
    """A classroom limit (``lab.roster.limits.<name>``) was set out of its range.

    Args:
        name: the limit.
        value: what it was set to.
        low: the least it may be.
        high: the most it may be.
        default: what it is unless the teacher sets it.
    """

    def __init__(self, name: str, value: object, low: float, high: float, default: float) -> None:
        super().__init__(name, value, low, high, default)
        self.name, self.value, self.low, self.high, self.default = name, value, low, high, default

    def __str__(self) -> str:
        return (
            f"{self.name} is a whole number from {self.low:g} to {self.high:g}, not {self.value!r}; "
            f"set it with e.g. lab.roster.limits.{self.name} = {self.default:g} (its default)"
        )


class CheckFailed(DuplexLabError, AssertionError):
    """An exercise check found a mistake; the message says which and why."""


class ClusterError(DuplexLabError, RuntimeError):
    """A server process did not start or did not answer; the message says which, and where its log is."""


class BackplaneError(ClusterError):
    """The backplane did not start or did not answer: no Redis at the address given, ``redis-server``
    on no free port, or the embedded one's first line was not its address."""
