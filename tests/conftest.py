"""Shared fixtures: a fresh lab per test, real sockets on 127.0.0.1, port 0."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

import duplexlab as dl

# Every wait in the tests is multiplied by this (slow CI machines: set it to 2 or 3).
FACTOR = float(os.environ.get("DUPLEXLAB_TIMEOUT_FACTOR", "1"))


def seconds(s: float) -> float:
    """A timeout of ``s`` seconds, scaled by DUPLEXLAB_TIMEOUT_FACTOR."""
    return s * FACTOR


def wait_for(condition, timeout: float = 5.0, why=lambda: "timed out") -> None:
    """Wait until ``condition()`` is true (checked every 20 ms); after ``timeout`` (scaled) seconds fail,
    saying ``why()`` (what the test was waiting on, as it stands then)."""
    deadline = time.monotonic() + seconds(timeout)
    while not condition():
        assert time.monotonic() < deadline, why()
        time.sleep(0.02)


@pytest.fixture
def lab():
    """A lab of its own for one test, stopped afterwards."""
    with dl.Lab() as lab:
        yield lab


@pytest.fixture
def default_lab():
    """The module-level lab (``dl.start()``), as notebooks use it."""
    lab = dl.start()
    yield lab
    dl.stop()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("duplexlab")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
