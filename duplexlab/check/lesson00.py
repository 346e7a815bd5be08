"""Checks for lesson 0, the start."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..lab import current
from .result import check, fail

__all__ = ["time_one_request"]


@check
def time_one_request(fn: Callable) -> str:
    """Lesson 0: ``fn(client, path)`` sends one GET and returns how long it took, in seconds.

    The check compares your clock with the one the client keeps (``reply.elapsed``).
    """
    client = current().client()
    before = len(client.history)
    t0 = time.perf_counter()
    took = fn(client, "/api/health")
    wall = time.perf_counter() - t0
    made = len(client.history) - before
    if made != 1:
        raise fail(f"fn made {made} requests; send exactly one GET with client.get(path)")
    if not isinstance(took, (int, float)) or isinstance(took, bool):
        raise fail(f"fn returned {took!r}; return the seconds as a number (time.perf_counter() before and after)")
    if took > 100 * max(wall, 0.001):
        raise fail(f"fn returned {took:g}, but the call took {wall * 1000:.2f} ms: return seconds, not milliseconds")
    elapsed = client.history[-1].elapsed
    if not 0 < took <= wall + 0.001 or took < elapsed * 0.5:
        raise fail(
            f"fn returned {took * 1000:.3f} ms, but the request took {elapsed * 1000:.3f} ms "
            "(the client's own clock); start timing just before client.get and stop just after"
        )
    return f"time_one_request works: {took * 1000:.2f} ms by your clock, {elapsed * 1000:.2f} ms by the client's."
