"""Measured experiments the lessons run: many clients at once, on the lab's loop.

Each experiment is a coroutine that runs on the lab's loop thread (call it with
``lab.run(...)`` from a cell); it sends its traffic through a tap so bytes are
counted too, and returns a result object with the figures and the theory.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clients.http import AsyncClient, Reply
from ..clients.polling import PollRun, expected_polls
from ..feedback import WIDTH, Feedback
from ..tap import Tap
from .seeds import default_seed

__all__ = ["PollingResult", "delay_claims", "measure_polling"]

JUDGE_CODE = "print(sum(range(10)))"


@dataclass
class PollingResult:
    """What ``students`` clients polling the judge every ``interval`` seconds cost."""

    interval: float
    judge_seconds: float
    students: int
    runs: list[PollRun] = field(default_factory=list)
    t_ready: list[float] = field(default_factory=list)
    bytes_total: int = 0
    header_bytes: int = 0

    @property
    def requests(self) -> int:
        """Polls sent by all students (the submissions themselves not counted)."""
        return sum(r.requests for r in self.runs)

    @property
    def wasted(self) -> int:
        return sum(r.wasted for r in self.runs)

    @property
    def delays(self) -> list[float]:
        """Seconds from "ready" on the server to "known" by each student."""
        return [r.answer.t_done - t for r, t in zip(self.runs, self.t_ready)]

    @property
    def mean_delay(self) -> float:
        return statistics.fmean(self.delays)

    @property
    def rtt(self) -> float:
        """The median round trip of the polls that said "done", in seconds.

        Those are the round trips that add to the detection delay (earlier polls
        may have been slowed by the judge starting processes).
        """
        return statistics.median(r.answer.elapsed for r in self.runs)

    @property
    def theory_delay(self) -> float:
        """The expected detection delay of a clock-driven poller: half an interval, plus half a round trip.

        Polls leave on a clock (0, T, 2T, …), so the first poll to reach the server after the
        result is ready arrives T/2 later on average; its answer then travels back, half a round
        trip. (A loop that sleeps T *after* each answer polls every T + RTT: it is T/2 + RTT late.)
        """
        return self.interval / 2 + self.rtt / 2

    @property
    def expected_requests_per_student(self) -> float:
        """Polls one student needs if the result is ready after ``judge_seconds``."""
        return expected_polls(self.judge_seconds + self.interval / 2, self.interval)

    def __str__(self) -> str:
        """One line of 100 columns or fewer; two when the numbers are long (the delay goes on, indented)."""
        head = (
            f"every {self.interval:g} s, judge {self.judge_seconds:g} s, {self.students} student(s): "
            f"{self.requests / self.students:.1f} polls each ({self.wasted / self.students:.1f} wasted), "
            f"{self.bytes_total / self.students:.0f} bytes each"
        )
        delay = f"detection delay {self.mean_delay * 1000:.0f} ms (theory {self.theory_delay * 1000:.0f} ms)"
        one = f"{head}; {delay}"
        return one if len(one) <= WIDTH else f"{head}\n  {delay}"


def delay_claims(results: list[PollingResult]) -> Feedback:
    """The lesson's claim, "you learn half an interval late on average", checked for each result.

    ✓ when the mean delay is within 30 % (or 20 ms) of interval/2 + RTT/2 (the clock-driven
    poller's theory); else what happened instead. Printed, one line per result (wrapped between
    words, indented, past 100 columns); as a cell's value, the marks boxed in their colours.
    """
    lines = []
    for r in results:
        mean, theory = r.mean_delay * 1000, r.theory_delay * 1000
        if abs(mean - theory) <= max(0.3 * theory, 20):
            lines.append(f"✓ every {r.interval:g} s: learned {mean:.0f} ms late on average, theory {theory:.0f} ms")
        else:
            lines.append(
                f"✗ every {r.interval:g} s: learned {mean:.0f} ms late on average, not about {theory:.0f} ms: "
                f"with {r.students} student(s) the ready moments sample the polling cycle coarsely, "
                "or the machine was busy; more students average better"
            )
    return Feedback("\n".join(lines))


async def measure_polling(
    url: str,
    *,
    interval: float,
    judge_seconds: float,
    students: int = 1,
    on_reply: Callable[[Reply], None] | None = None,
    tap: bool = True,
    seed: int | None = None,
) -> PollingResult:
    """Students submit code to the judge at ``url`` and poll until it is judged.

    Student *k*'s result is published ``judge_seconds`` plus ``(k + u) / students``
    of an interval after the submission (the judge's ``ready_after``), where ``u``
    is drawn once from ``seed`` (the course's default seed when None), so the
    moments results become ready fall evenly across the polling cycle, as real,
    varied run times do; the mean delay then measures the polling itself, not
    one lucky phase.
    """
    if students < 1:
        raise ValueError(f"students must be 1 or more, not {students}")
    recorder = await Tap(url).start() if tap else None
    base = recorder.url if recorder else url
    result = PollingResult(interval, judge_seconds, students)
    u = random.Random(default_seed() if seed is None else seed).random()

    async def student(k: int) -> tuple[PollRun, float]:
        async with AsyncClient(base) as client:
            ready_after = judge_seconds + (k + u) / students * interval
            sub = await client.post("/api/judge/submissions", json={"code": JUDGE_CODE, "ready_after": ready_after})
            run = await client.poll(sub.json()["poll"], interval=interval, on_reply=on_reply)
            return run, run.answer.json()["t_ready"]

    try:
        for run, t_ready in await asyncio.gather(*(student(k) for k in range(students))):
            result.runs.append(run)
            result.t_ready.append(t_ready)
    finally:
        if recorder is not None:
            await recorder.aclose()
    if recorder is not None:
        counts = recorder.counts()
        result.bytes_total, result.header_bytes = counts.bytes_total, counts.header_bytes
    return result
