"""Checks for lesson 2, polling."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..clients.polling import expected_polls
from ..lab import current
from .result import check, fail

__all__ = ["backoff_poll", "expected_wasted"]


def _submit(client, queue_delay: float) -> str:
    reply = client.post("/api/judge/submissions", json={"code": "print(42)", "queue_delay": queue_delay})
    return reply.json()["poll"]


@check
def backoff_poll(fn: Callable) -> str:
    """Lesson 2: ``fn(client, url, first=, factor=, deadline=)`` polls with exponential backoff.

    It returns the judge's final answer (a dict with status "done"), or ``None``
    once ``deadline`` seconds have passed; the gaps between its requests start
    at ``first`` and grow by ``factor`` each time.
    """
    lab = current()
    client = lab.client()
    url = _submit(client, 1.0)
    before = len(client.history)
    answer = fn(client, url, first=0.1, factor=2.0, deadline=5.0)
    sent = [r.t_sent for r in client.history[before:]]
    if not isinstance(answer, dict) or answer.get("status") != "done":
        raise fail(f"for a 1 s judgement fn should return the answer with status 'done', got {answer!r}")
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    if len(sent) > 7:
        raise fail(
            f"it sent {len(sent)} requests for a 1 s judgement; with gaps 0.1, 0.2, 0.4, 0.8 s about 5 are enough"
        )
    for i, gap in enumerate(gaps[:3]):
        want = 0.1 * 2**i
        if not want * 0.8 <= gap <= want + 0.15:
            raise fail(
                f"gap {i + 1} between requests was {gap:.3f} s; with first=0.1 and factor=2 it should be "
                f"about {want:g} s (gaps so far: {', '.join(f'{g:.2f}' for g in gaps)})"
            )
    url = _submit(client, 3.0)
    t0 = time.perf_counter()
    late = fn(client, url, first=0.1, factor=2.0, deadline=0.5)
    took = time.perf_counter() - t0
    if late is not None:
        raise fail(f"with deadline=0.5 and a 3 s judgement fn should give up and return None, got {late!r}")
    if took > 0.5 + 0.8:
        raise fail(f"with deadline=0.5 it took {took:.2f} s to give up; stop once the deadline has passed")
    shown = ", ".join(f"{g:.2f}" for g in gaps)
    return f"backoff_poll works: {len(sent)} requests, gaps {shown} s; gives up at the deadline."


@check
def expected_wasted(fn: Callable[[float, float], int]) -> str:
    """Lesson 2: ``fn(judge_seconds, interval)``: wasted polls of a poll that starts at 0.

    Polls leave at 0, interval, 2 x interval, ...; the result is ready at
    ``judge_seconds``; every poll before the first one at or after it is wasted.
    """

    cases = [(7, 1), (7, 2), (6.5, 0.5), (0.05, 1), (3, 0.25), (10, 3)]
    for judge, interval in cases:
        want = expected_polls(judge, interval) - 1
        got = fn(judge, interval)
        if got != want:
            raise fail(
                f"fn({judge}, {interval}) returned {got!r}; polls leave at 0, {interval}, "
                f"{2 * interval:g}, ... and the result is ready at {judge}, so {want} polls say 'not yet'"
            )
    lab = current()
    client = lab.client()
    run = client.poll(_submit(client, 0.6), interval=0.3)
    ready_after = run.answer.json()["t_ready"] - run.t_start
    predicted = fn(ready_after, 0.3)
    if predicted != run.wasted:
        raise fail(
            f"a real run (ready after {ready_after:.2f} s, polling every 0.3 s) wasted "
            f"{run.wasted} polls; your function predicted {predicted}"
        )
    return f"expected_wasted works, and matched a real run: {run.wasted} wasted polls."
