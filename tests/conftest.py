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
