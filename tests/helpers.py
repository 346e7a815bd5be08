"""Plain helpers for the tests: scaled timeouts, waiting on a condition, ports, counts of what is open.

Fixtures live in ``conftest.py``; everything a test imports by name lives here
(``from .helpers import seconds, wait_for``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

# The seeds a "claims hold for any seed" test runs: the fast tier checks the first, the full suite all five
# (the others are marked sweep).
SEEDS = [1, *(pytest.param(seed, marks=pytest.mark.sweep) for seed in (2, 3, 4, 5))]

# Every wait in the tests is multiplied by this (slow CI machines: set it to 2 or 3).
FACTOR = float(os.environ.get("DUPLEXLAB_TIMEOUT_FACTOR", "1"))


def seconds(s: float) -> float:
    """A timeout of ``s`` seconds, scaled by DUPLEXLAB_TIMEOUT_FACTOR."""
    return s * FACTOR


def wait_for(
    condition: Callable[..., T | None],  # a lambda binding a loop variable (x=x) is fine too
    timeout: float = 5.0,
    why: Callable[..., object] = lambda: "timed out",
    interval: float = 0.02,
) -> T:
    """Wait until ``condition()`` is true (checked every ``interval`` seconds) and return what it gave;
    after ``timeout`` (scaled) seconds fail, saying ``why()`` (what the test was waiting on, as it
    stands then)."""
    deadline = time.monotonic() + seconds(timeout)
    while not (value := condition()):
        assert time.monotonic() < deadline, why()
        time.sleep(interval)
    return value


def settled(busy: Callable[[], object], quiet: float) -> Callable[[], bool]:
    """A condition for :func:`wait_for`: true once ``busy()`` has been false for ``quiet`` seconds in a row."""
    since: float | None = None

    def condition() -> bool:
        nonlocal since
        if busy():
            since = None
        elif since is None:
            since = time.monotonic()
        return since is not None and time.monotonic() - since > quiet

    return condition


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("duplexlab")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """Whether something accepts a TCP connection on ``host:port`` now."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


# A flood from one place: ``python -c FLOOD host port count payload`` opens ``count`` TCP connections
# to host:port (up to 500 connecting at once), writes ``payload`` (a unicode-escaped string: a half
# request, or a whole one) on each as it opens, prints {"opened", "failed", "seconds"} and holds them
# until its input closes. Bounded: what has not connected within 60 s counts as failed.
FLOOD = r"""
import json, resource, selectors, socket, sys, time
host, port, count, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
payload = payload.encode().decode("unicode_escape").encode("latin-1")
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel = selectors.DefaultSelector()
held, failed, started, t0 = [], 0, 0, time.monotonic()
while (started < count or sel.get_map()) and time.monotonic() - t0 < 60:
    while started < count and len(sel.get_map()) < 500:
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        sel.register(s, selectors.EVENT_WRITE)
        started += 1
    for key, _ in sel.select(0.5):
        s = key.fileobj
        sel.unregister(s)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            try:
                s.send(payload)
                held.append(s)
                continue
            except OSError:
                pass
        s.close()
        failed += 1
failed += count - len(held) - failed
print(json.dumps({"opened": len(held), "failed": failed, "seconds": time.monotonic() - t0}), flush=True)
sys.stdin.read()
"""
