"""Checks for lesson 6, the transports side by side."""

from __future__ import annotations

from collections.abc import Callable

from ..experiments.arena import EVENTS_START, Arena
from .result import check, fail

__all__ = ["cheapest", "polls_per_event"]


@check
def polls_per_event(fn: Callable[[float, float], float], result=None) -> str:
    """Lesson 6: ``fn(rate, interval)``: polling requests per delivered event, in the long run.

    Events arrive at ``rate`` per second; the client polls every ``interval``
    seconds whatever happens, so the answer is polls per second over events
    per second. With ``result`` (an :class:`~duplexlab.experiments.arena.ArenaResult` that
    ran polling), the check also sets your formula beside that run's figures.
    """
    for rate, interval in ((2, 1), (4, 0.5), (1, 2), (10, 0.1)):
        want = 1 / (rate * interval)
        got = fn(rate, interval)
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
            raise fail(
                f"fn({rate}, {interval}) = {got!r}; the client sends 1/{interval:g} polls per second "
                f"and gets {rate:g} events per second, so {want:g} polls per event"
            )
    if result is None:
        with Arena() as arena:
            result = arena.run(rate=10, duration=1.5, poll_interval=0.5, transports=("polling",), tap=False, seed=7)
    polling = result.results["polling"]
    window = result.duration - EVENTS_START
    polls_per_s = polling.requests / polling.clients / polling.seconds if polling.seconds else 0.0
    events_per_s = len(result.event_times) / window if window > 0 else 0.0
    formula = fn(result.rate, result.poll_interval)
    if not events_per_s:
        return f"polls_per_event works; the run had no events to compare with (formula {formula:.2f})."
    return (
        f"polls_per_event works. In the run: {polls_per_s:.2f} polls/s per client and "
        f"{events_per_s:.2f} events/s → {polls_per_s / events_per_s:.2f} polls per event; your formula "
        f"with the run's settings (rate {result.rate:g}, interval {result.poll_interval:g} s) says {formula:.2f}. "
        "A short run's random events make the two differ; they agree in the long run."
    )


def _arena_result():
    """One real side-by-side run, shared by the checks that read it (it takes seconds)."""
    if not _ARENA_RESULT:
        with Arena() as arena:
            _ARENA_RESULT.append(arena.run(rate=5, duration=1.0, poll_interval=0.5, seed=11))
    return _ARENA_RESULT[0]


_ARENA_RESULT: list = []


@check
def cheapest(fn: Callable, result=None) -> str:
    """Lesson 6: ``fn(result)`` names the transport with the fewest bytes per delivered event.

    ``result`` is the run to judge (the lesson passes its own); without one the
    check makes a short run of its own.
    """
    result = result if result is not None else _arena_result()
    per_event = {name: r.bytes_per_event for name, r in result.results.items() if r.deliveries}
    if not per_event:
        raise fail("that run delivered no events; run it again (or pass a run that has events)")
    want = min(per_event, key=lambda name: per_event[name])
    got = fn(result)
    if got != want:
        shown = ", ".join(f"{k}: {v:.0f} B" for k, v in per_event.items())
        raise fail(
            f"bytes per delivered event were {shown}; the fewest is {want!r}, you said {got!r}. "
            "Use result.results[name].bytes_per_event"
        )
    return f"cheapest works: {want} ({per_event[want]:.0f} bytes per event in this run)."
