"""Statistics over timings, and timelines of who learned what when. No sockets here.

Times are seconds on the lab clock (``time.perf_counter()``), which every thread
of the process shares, so a server event and a client's answer can be compared.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .feedback import feedback_html, fit, fit_parts

__all__ = ["Prediction", "Stats", "first_seen", "percentile", "reveal", "summarize"]

K = TypeVar("K", bound=Hashable)  # an event id


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
        return fit_parts([f"n={self.n}", *(f"{name}={_rounded(value)}" for name, value in shown)], sep="  ")


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


def first_seen(created: Mapping[K, float], sightings: Iterable[tuple[float, Iterable[K]]]) -> dict[K, float]:
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
    seen: dict[K, float] = {}
    for t, ids in sorted(sightings, key=lambda s: s[0]):
        for event_id in ids:
            if event_id in created and event_id not in seen and t >= created[event_id]:
                seen[event_id] = t
    return seen


@dataclass(frozen=True)
class Prediction:
    """A guess, shown beside the theory and the measurement only once there is a guess."""

    guess: float | None
    measured: float
    theory: float | None = None
    unit: str = ""
    name: str = "my_guess"
    details: str = ""

    def _with_unit(self, value: float) -> str:
        shown = f"{value:g}" if isinstance(value, int) or float(value).is_integer() else _rounded(value)
        return f"{shown} {self.unit}".rstrip()

    def __str__(self) -> str:
        if self.guess is None:
            return fit(
                f"○ Make your guess first: set {self.name} in the cell above to a number, run it, "
                "then run this cell again. The measurement is done; it shows beside your guess."
            )
        parts = [f"your guess: {self._with_unit(self.guess)}"]
        if self.theory is not None:
            parts.append(f"theory: {self._with_unit(self.theory)}")
        parts.append(f"measured: {self._with_unit(self.measured)}")
        off = abs(self.guess - self.measured)
        if off <= 0.2 * abs(self.measured):
            verdict = "✓ close: within 20 % of the measurement"
        else:
            verdict = f"off by {self._with_unit(off)}: what made the difference? The text below explains"
        shown = "   ".join(parts) + "\n" + verdict
        return fit(shown + ("\n" + self.details if self.details else ""))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return feedback_html(str(self))


def reveal(
    guess: object,
    *,
    measured: float,
    theory: float | None = None,
    unit: str = "",
    name: str = "my_guess",
    details: str = "",
) -> Prediction:
    """Your guess beside the theory and the measurement: the measurement stays hidden until you guess.

    Run All leaves the guess unset (``None``), so the class still has to think: the line then
    says "make your guess first".

    Args:
        guess: your prediction, a number; ``None`` until you make one.
        measured: what this run measured.
        theory: what the formula says, if there is one.
        unit: printed after each number ("requests", "ms", "bytes").
        name: the variable that holds the guess, named in the reminder.
        details: more lines about the measurement, shown only once there is a guess.

    Raises:
        TypeError: ``guess`` is neither a number nor ``None``; the message says what to write.

    Example::

        my_guess = None                      # a student changes this to, say, 3
        dl.reveal(my_guess, measured=4, theory=4, unit="requests")
    """
    if guess is not None and (isinstance(guess, bool) or not isinstance(guess, int | float)):
        raise TypeError(f"{name} should be a number, like 3 or 0.5, not {guess!r}")
    return Prediction(None if guess is None else float(guess), measured, theory, unit, name, details)
