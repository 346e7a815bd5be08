"""Checks for lesson 7, keeping WebSockets alive."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed

from ..clients.resilient import Backoff
from ..lab import current
from .result import check, fail

__all__ = ["backoff_wait", "keepalive_deadline"]


@check
def keepalive_deadline(fn: Callable[[float, float, float], float]) -> str:
    """Lesson 7: ``fn(ping_interval, ping_timeout, close_timeout)``: the longest a dead path goes unnoticed."""
    for args in ((20, 20, 10), (1, 1, 0.5), (5, 2, 1)):
        want = sum(args)
        got = fn(*args)
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
            raise fail(
                f"fn{args} = {got!r}; the ping waits up to ping_interval, its pong up to "
                f"ping_timeout, the closing handshake up to close_timeout: {want:g} s"
            )

    lab = current()
    tap = lab.tap(lab.ws_url)
    tap.idle_timeout, tap.idle_action = 0.2, "silent"
    try:
        t0 = time.perf_counter()
        ws = lab.connect("/echo", base_url=tap.url, ping_interval=0.5, ping_timeout=0.5, close_timeout=0.25)
        try:
            while True:
                ws.recv(timeout=5)
        except (ConnectionClosed, TimeoutError):
            took = time.perf_counter() - t0
    finally:
        tap.close()
    if not 0.8 * fn(0.5, 0.5, 0.25) <= took <= 1.2 * fn(0.5, 0.5, 0.25):
        raise fail(f"a real dead path was noticed after {took:.2f} s; your formula says {fn(0.5, 0.5, 0.25):g} s")
    return f"keepalive_deadline works: a real dead path was noticed after {took:.2f} s (formula 1.25 s)."


@check
def backoff_wait(fn: Callable[[int, float, float, float], float]) -> str:
    """Lesson 7: ``fn(attempt, first, cap, u)``: the wait before reconnect attempt ``attempt``.

    The base is ``first * 2**(attempt - 1)``, at most ``cap``; with "equal
    jitter" the wait is half the base plus ``u`` (a random number in [0, 1))
    times the other half.
    """

    for attempt in range(1, 12):
        for first, cap in ((0.1, 5.0), (1.0, 30.0)):
            u = random.random()

            class Fixed(random.Random):
                def uniform(self, a, b, u=u):
                    return a + (b - a) * u

            want = Backoff(first=first, cap=cap, rng=Fixed()).wait(attempt)
            got = fn(attempt, first, cap, u)
            if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
                raise fail(
                    f"fn({attempt}, {first}, {cap}, {u:.3f}) = {got!r}, expected {want:.4f}: "
                    f"base = min({cap}, {first} * 2**{attempt - 1}), wait = base/2 + u * base/2"
                )
    return "backoff_wait grows, caps and jitters like the package's Backoff."
