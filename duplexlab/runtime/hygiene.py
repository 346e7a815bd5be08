"""Connection hygiene: limits that keep one careless or hostile client from locking out the rest.

- :class:`ConnectionGate` caps how many connections the lab's listeners (HTTP,
  WebSocket, taps, a cluster's balancers) hold at once, below the process's
  open-file limit, so the lab never runs out of file descriptors; a connection
  over the cap gets a short ``503`` and is closed at once. A door may be held to
  a share of the cap (a cluster's balancers: half, so a flood through them leaves
  the lab's own server room), and in a classroom each source address to a few
  connections of its own (``per_address``), so one machine on the network that
  opens thousands locks out only itself, never the class.
- :class:`GuardedProtocol` wraps aiohttp's protocol to give each request's
  headers a time limit (a client that sends half a request is cut after
  ``HEADER_TIMEOUT``); the WebSocket server gets the same from its handshake
  timeout.
- :class:`RateLimitedLog` lets at most one line per kind of failure through
  every ``LOG_WINDOW`` seconds, without tracebacks, and counts the rest: never a
  traceback flood in a cell.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, cast

__all__ = [
    "ConnectionGate",
    "GuardedProtocol",
    "HEADER_TIMEOUT",
    "KEEPALIVE_TIMEOUT",
    "Pass",
    "RateLimitedLog",
    "connection_budget",
    "quiet_server_logs",
]

HEADER_TIMEOUT = 10.0  # seconds for a request's headers to arrive
KEEPALIVE_TIMEOUT = 15.0  # seconds an idle keep-alive HTTP connection is kept
LOG_WINDOW = 10.0
RESERVE_FDS = 64


def open_fds() -> int:
    """How many files and sockets this process has open (an estimate where unknown)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 64


def connection_budget() -> int:
    """How many connections the lab's listeners may hold at once.

    Half of what the open-file limit leaves after the files open now and a
    reserve: the other half is for the clients in the same process (a notebook's
    own clients and taps need a file descriptor per connection too).
    """
    try:
        import resource
    except ImportError:  # Windows: no per-process limit of this kind
        return 8192
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 8192
    return max(16, (soft - open_fds() - RESERVE_FDS) // 2)


class Pass:
    """One connection admitted at a :class:`ConnectionGate`; :meth:`leave` when it closes (twice is harmless)."""

    __slots__ = ("address", "door", "gate", "weight")

    def __init__(self, gate: ConnectionGate, address: str | None, door: str, weight: int) -> None:
        self.gate, self.address, self.door, self.weight = gate, address, door, weight

    def leave(self) -> None:
        gate, self.gate = self.gate, None  # type: ignore[assignment]
        if gate is not None:
            gate._leave(self)


class ConnectionGate:
    """Counts open connections across listeners and refuses those over ``limit``.

    Each connection is admitted with :meth:`admit` (its peer's address, its weight in file
    descriptors, the door it came through) and leaves with the :class:`Pass` it got. Refused:
    a connection when the lab holds ``limit``; one through a door over its share (``shares``:
    door → fraction of ``limit``); with ``per_address`` (classroom mode: a callable giving the
    cap), one from an address that already holds that many, unless the address is the lab's own
    machine (``own_addresses``). A tap in front of the lab says whose its connections are
    (``forwarded``), so they count for the student, not for the tap.

    Used on one event loop only (the lab's), so no locking.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = connection_budget() if limit is None else limit
        self.open = 0
        self.refused = 0
        self.refused_addresses = 0  # of them, refused because their address held its share
        self.shares: dict[str, float] = {}
        self.per_address: Callable[[], int] | None = None
        self.own_addresses: set[str] = set()
        self.forwarded: dict[tuple[str, int], str] = {}  # a tap's own end → the address of the client it carries
        self.by_address: collections.Counter[str] = collections.Counter()
        self._by_door: collections.Counter[str] = collections.Counter()
        self._why = ""

    def source(self, peername: object) -> str | None:
        """The address a connection from ``peername`` counts for (a tap's: its client's)."""
        if not isinstance(peername, tuple) or len(peername) < 2:
            return None
        return self.forwarded.get((peername[0], peername[1]), str(peername[0]))

    def admit(self, peername: object = None, *, weight: int = 1, door: str = "") -> Pass | None:
        """Count a new connection in, or None (counted as refused; :meth:`busy_response` says why)."""
        if self.open + weight > self.limit:
            self._refuse(f"the lab holds {self.open} connections, its limit on this machine")
            return None
        share = self.shares.get(door)
        if share is not None and self._by_door[door] + weight > self.limit * share:
            self._refuse(f"the lab's {door} holds {self._by_door[door] // max(1, weight)} connections, its share")
            return None
        address = self.source(peername)
        cap = self.per_address() if self.per_address is not None else None
        if cap is not None and address is not None and address not in self.own_addresses:
            if self.by_address[address] + weight > cap:
                self.refused_addresses += 1
                self._refuse(
                    f"your address {address} holds {self.by_address[address]} connections to this lab, "
                    "the most one machine may"
                )
                return None
        else:
            address = None  # not counted per address
        self.open += weight
        if share is not None:
            self._by_door[door] += weight
        if address is not None:
            self.by_address[address] += weight
        return Pass(self, address, door if share is not None else "", weight)

    def _refuse(self, why: str) -> None:
        self.refused += 1
        self._why = why
        return None

    def _leave(self, admitted: Pass) -> None:
        self.open = max(0, self.open - admitted.weight)
        for counter, key in ((self._by_door, admitted.door), (self.by_address, admitted.address)):
            if key:
                counter[key] -= admitted.weight
                if counter[key] <= 0:
                    del counter[key]

    def enter(self) -> bool:
        """Count a new connection in (no address, no door); ``False`` (and counted as refused) if the lab is full."""
        if self.open >= self.limit:
            self._refuse(f"the lab holds {self.open} connections, its limit on this machine")
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        """One connection counted in with :meth:`enter` closed."""
        self.open = max(0, self.open - 1)

    def busy_response(self) -> bytes:
        """A complete HTTP ``503`` for a connection over the limit, saying which."""
        body = json.dumps(
            {
                "error": self._why or f"the lab holds {self.open} connections, its limit on this machine",
                "hint": "close connections you no longer need and retry in a second; "
                "raise the open-file limit (ulimit -n) for more",
            }
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


class GuardedProtocol(asyncio.Protocol):
    """Wraps a server protocol (aiohttp's): counts it at the gate, limits header time.

    The deadline runs from the connection's start and again after each answered
    request (plus the keep-alive time), until the application sees the next
    request's headers (:meth:`request_started`). A connection that misses it is
    cut. Everything else goes to the wrapped protocol unchanged.
    """

    def __init__(
        self,
        inner: asyncio.Protocol,
        gate: ConnectionGate,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        keepalive: float = KEEPALIVE_TIMEOUT,
    ) -> None:
        self.inner, self.gate = inner, gate
        self.header_timeout, self.keepalive = header_timeout, keepalive
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._admitted = False
        self._pass: Pass | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = stream = cast(asyncio.Transport, transport)  # a TCP server's transport
        self._pass = self.gate.admit(stream.get_extra_info("peername"))
        if self._pass is None:
            stream.write(self.gate.busy_response())
            stream.close()
            return
        self._admitted = True
        self._arm(self.header_timeout)
        self.inner.connection_made(transport)

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.transport is not None:
            self.transport.abort()

    def request_started(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def request_finished(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._arm(self.keepalive + self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._admitted:
            self._admitted = False
            if self._pass is not None:
                self._pass.leave()
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self._admitted else None

    def pause_writing(self) -> None:
        if self._admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self.inner.resume_writing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RateLimitedLog(logging.Filter):
    """At most one record per (logger, message) every ``window`` seconds, no traceback.

    The first record of a kind goes through as one line (its exception, if any,
    in a few words); repeats within the window are counted, and the next line of
    that kind says how many were left out.
    """

    def __init__(self, window: float = LOG_WINDOW) -> None:
        super().__init__()
        self.window = window
        self._last: dict[tuple[str, str], float] = {}
        self._dropped: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.window:
                self._dropped[key] = self._dropped.get(key, 0) + 1
                return False
            self._last[key] = now
            if len(self._last) > 1000:  # forget old kinds: bounded memory
                self._last = {k: t for k, t in self._last.items() if now - t < self.window}
            dropped = self._dropped.pop(key, 0)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        if dropped:
            record.msg = f"{record.getMessage()} ({dropped} more like this in the last {self.window:g} s)"
            record.args = ()
        return True


_QUIET = RateLimitedLog()
SERVER_LOGGERS = ("asyncio", "aiohttp.server", "aiohttp.web", "aiohttp.access", "duplexlab.websockets", "duplexlab")


def quiet_server_logs() -> None:
    """Put the rate limit on the loggers the lab's servers write to (once per process)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
