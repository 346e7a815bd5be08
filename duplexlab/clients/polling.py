"""Polling: ask again and again until the answer is the one you wait for.

:func:`poll` is the loop itself, clock-driven like a page's ``setInterval``:
request number *k* leaves at ``start + k × interval`` (or later, with backoff),
whatever the previous answer cost. It records every reply, so a lesson can
count requests, wasted polls (answers that said "not yet") and the detection
delay: from "ready" on the server to "the client knows".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .reply import Reply

__all__ = ["PollRun", "expected_polls", "judge_done", "poll"]


def judge_done(reply: Reply) -> bool:
    """For the code judge: the submission's status is ``done``."""
    return reply.ok and reply.json().get("status") == "done"


@dataclass
class PollRun:
    """One polling loop, from its first request to its last."""

    interval: float
    t_start: float
    replies: list[Reply] = field(default_factory=list)
    done: Reply | None = None
    gave_up: bool = False

    @property
    def requests(self) -> int:
        return len(self.replies)

    @property
    def wasted(self) -> int:
        """Polls whose answer was "not yet"."""
        return self.requests - (1 if self.done else 0)

    @property
    def t_known(self) -> float | None:
        """When the client had the answer that said "done"."""
        return self.done.t_done if self.done else None

    @property
    def answer(self) -> Reply:
        """The reply that said "done"; raises ``RuntimeError`` if the run ended without one."""
        if self.done is None:
            raise RuntimeError(
                f"this poll ended after {self.requests} request(s) without a 'done' answer "
                "(it gave up at its deadline, or was stopped)"
            )
        return self.done

    def detection_delay(self, t_ready: float) -> float | None:
        """Seconds from ``t_ready`` (on the server) to the client knowing."""
        return None if self.done is None else self.done.t_done - t_ready

    def __repr__(self) -> str:
        state = "done" if self.done else ("gave up" if self.gave_up else "running")
        return f"<PollRun every {self.interval:g} s: {self.requests} requests, {self.wasted} wasted, {state}>"


async def poll(
    send: Callable[[], Awaitable[Reply]],
    *,
    done: Callable[[Reply], bool] = judge_done,
    interval: float = 1.0,
    backoff: float = 1.0,
    max_interval: float | None = None,
    deadline: float | None = None,
    on_reply: Callable[[Reply], None] | None = None,
) -> PollRun:
    """Call ``send()`` every ``interval`` seconds until ``done(reply)``.

    Args:
        send: makes one request and returns its :class:`Reply`.
        done: says whether a reply is the one we were waiting for.
        interval: seconds between the starts of two requests.
        backoff: multiply the interval by this after each "not yet" (1 = no backoff).
        max_interval: the interval never grows past this.
        deadline: give up after this many seconds (``run.gave_up`` is then True).
        on_reply: called with every reply as it arrives (for progress bars).
    """
    if interval <= 0:
        raise ValueError(f"the interval must be positive, not {interval}")
    if backoff < 1:
        raise ValueError(f"backoff must be 1 or more, not {backoff}")
    run = PollRun(interval, time.perf_counter())
    next_at, gap = run.t_start, interval
    while True:
        reply = await send()
        run.replies.append(reply)
        if on_reply is not None:
            on_reply(reply)
        if done(reply):
            run.done = reply
            return run
        next_at += gap
        gap = min(gap * backoff, max_interval or float("inf"))
        now = time.perf_counter()
        if deadline is not None and next_at - run.t_start > deadline:
            run.gave_up = True
            return run
        await asyncio.sleep(max(0.0, next_at - now))


def expected_polls(wait: float, interval: float) -> int:
    """How many requests a clock-driven poll makes for an answer ready after ``wait`` s.

    Polls leave at 0, interval, 2 × interval, …; the first one at or after
    ``wait`` is the one that says "done".
    """
    if interval <= 0:
        raise ValueError(f"the interval must be positive, not {interval}")
    k = 0
    while k * interval < wait - 1e-12:
        k += 1
    return k + 1
