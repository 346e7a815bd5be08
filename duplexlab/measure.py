"""Statistics over timings, and timelines of who learned what when. No sockets here.

Times are seconds on the lab clock (``time.perf_counter()``), which every thread
of the process shares, so a server event and a client's answer can be compared.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Stats", "first_seen", "percentile", "summarize"]


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, by linear interpolation."""
    if not values:
        raise ValueError("percentile of no values: measure something first")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, not {p}")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class Stats:
    """A summary of measurements, in the unit they were given in."""

    n: int
    mean: float
    median: float
    p90: float
    p99: float
    min: float
    max: float
    stdev: float

    def scaled(self, factor: float) -> Stats:
        """The same summary multiplied by ``factor`` (e.g. 1000 for s → ms)."""
        return Stats(
            self.n, *(v * factor for v in (self.mean, self.median, self.p90, self.p99, self.min, self.max, self.stdev))
        )

    def __str__(self) -> str:
        shown = (
            ("mean", self.mean),
            ("median", self.median),
            ("p90", self.p90),
            ("p99", self.p99),
            ("min", self.min),
            ("max", self.max),
        )
        return f"n={self.n}  " + "  ".join(f"{name}={_rounded(value)}" for name, value in shown)


def _rounded(value: float) -> str:
    """Three significant figures, no exponent: what a timing measured on one machine can claim."""
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if size >= 0.001 or size == 0 else f"{value:.2e}"


def summarize(values: Iterable[float]) -> Stats:
    """Mean, median, p90, p99, min, max and standard deviation of ``values``."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("nothing to summarize: the list of measurements is empty")
    return Stats(
        n=len(data),
        mean=statistics.fmean(data),
        median=statistics.median(data),
        p90=percentile(data, 90),
        p99=percentile(data, 99),
        min=min(data),
        max=max(data),
        stdev=statistics.stdev(data) if len(data) > 1 else 0.0,
    )


def first_seen(
    created: Mapping[object, float], sightings: Iterable[tuple[float, Iterable[object]]]
) -> dict[object, float]:
    """When the client first learned of each server event.

    Args:
        created: event id → when the server created it.
        sightings: (when the client had an answer, ids that answer contained).

    Returns:
        event id → the earliest sighting time at or after its creation; events
        the client never saw are left out.

    Example::

        first_seen({1: 0.5, 2: 1.2}, [(1.0, [1]), (2.0, [1, 2])])   # {1: 1.0, 2: 2.0}
    """
    seen: dict[object, float] = {}
    for t, ids in sorted(sightings, key=lambda s: s[0]):
        for event_id in ids:
            if event_id in created and event_id not in seen and t >= created[event_id]:
                seen[event_id] = t
    return seen
