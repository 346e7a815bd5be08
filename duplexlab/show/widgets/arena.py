"""Lesson 6's widgets: the four transports side by side, and a classroom of N clients."""

from __future__ import annotations

import math

import ipywidgets as W

from ...experiments.arena import EVENTS_START, TRANSPORTS, ArenaResult
from ...experiments.seeds import default_seed
from .. import plots
from ..projector import dress
from .base import SliderExperiment, render_plot
from .plot import PlotView

__all__ = ["MIN_EVENTS", "Classroom", "SideBySide"]

MIN_EVENTS = 10
"""Every side-by-side run has at least this many events, so its medians (and its plots) mean something."""


class SideBySide(SliderExperiment):
    """Sliders for the side-by-side run: event rate, burstiness, polling interval.

    Each change re-runs all four transports on the same events and redraws the
    four panels. Runs are seeded (run k uses ``seed + k``), so Run All shows the
    same events each time; ``seed=None`` draws new ones. Every run has at least
    ``min_events`` events: the rate slider starts where a run expects half as many
    again, and a draw with fewer is drawn again. The status names the run the plots
    show, as its table's heading does (:meth:`ArenaResult.heading`). A slider runs
    when it is let go, and the widget keeps its height while it runs. Example::

        arena = dl.Arena().start()
        dl.widgets.SideBySide(arena)
    """

    def __init__(
        self,
        arena,
        *,
        rate: float = 10.0,
        burstiness: float = 1.0,
        poll_interval: float = 1.0,
        duration: float = 3.0,
        seed: int | None = None,
        min_events: int = MIN_EVENTS,
        debounce: float = 0.3,
        autorun: bool = True,
    ) -> None:
        self.arena = arena.start()
        self.duration = duration
        self.min_events = min_events
        self.seed = default_seed() if seed is None else seed  # run k uses seed + k: Run All repeats
        self.result = None
        self._next_seed: int | None = None  # a one-off seed for run(seed=...)
        style = {"description_width": "10em"}  # em: labels and sliders grow with projector mode's text
        layout = W.Layout(width="33em")
        # the lowest rate at which a run expects 1.5 × min_events (fewer than min_events: drawn again)
        lowest = min(100.0, math.ceil(3 * min_events / max(duration - EVENTS_START, 0.1)) / 2)
        # continuous_update=False: a slider runs once, when it is let go (nothing moves while it is dragged)
        self.rate = W.FloatSlider(
            value=min(max(rate, lowest), 100),
            min=lowest,
            max=100,
            step=0.5,
            description="events per second",
            style=style,
            layout=layout,
            continuous_update=False,
        )
        self.burstiness = W.FloatSlider(
            value=burstiness,
            min=1,
            max=10,
            step=1,
            description="events per burst",
            style=style,
            layout=layout,
            continuous_update=False,
        )
        self.poll_interval = W.FloatSlider(
            value=poll_interval,
            min=0.1,
            max=3,
            step=0.1,
            description="poll every (s)",
            style=style,
            layout=layout,
            readout_format=".1f",
            continuous_update=False,
        )
        self.progress = W.FloatProgress(value=0, min=0, max=1, description="idle", style=style, layout=layout)
        # room for its two lines from the start, so a run's status never moves the plots below it
        self.status = W.HTML(self._rule(), layout=W.Layout(min_height="3.2em"))
        self.plot = PlotView(empty="The plots appear here after the first run: move a slider, or run the next cell.")
        self.widget = W.VBox(
            [
                W.HBox(
                    [W.VBox([self.rate, self.burstiness, self.poll_interval]), W.VBox([self.progress, self.status])]
                ),
                self.plot,
            ]
        )
        self._watch(self.arena.labs.get("WebSocket"))
        dress(self.widget)
        super().__init__(arena.clients, (self.rate, self.burstiness, self.poll_interval), debounce=debounce)
        if autorun:
            self._changed()

    def _changed(self, change=None) -> None:
        self.arena.start()  # a closed arena comes back at the next use of a slider
        super()._changed(change)

    def _progress(self, fraction: float) -> None:
        self.progress.value = fraction

    def _rule(self) -> str:
        return f"at least {self.min_events} events in every run, enough for medians"

    def _measure(self, seed: int | None, on_progress=None, **moved):
        """The coroutine of one run with the sliders' settings (or ``moved`` ones)."""
        settings = {"rate": self.rate.value, "burstiness": self.burstiness.value}
        settings["poll_interval"] = self.poll_interval.value
        settings.update({k: v for k, v in moved.items() if v is not None})
        return self.arena.arun(
            **settings,
            duration=self.duration,
            clients=1,
            transports=("polling", "long polling", "SSE", "WebSocket"),
            tap=True,
            seed=self.seed + self.runs_done if seed is None else seed,
            min_events=self.min_events,
            on_progress=on_progress,
        )

    async def _run_current(self) -> None:
        self.status.value = f"<b>run {self.runs_done + 1}</b>: measuring the four transports…<br>{self._rule()}"
        self.progress.description = "running"
        result = await self._measure(self._next_seed, self._progress)
        result.run = self.runs_done + 1
        self.plot.show(await render_plot(lambda: plots.side_by_side(result, show=False)))
        self.result = result
        self.progress.value = 1
        self.progress.description = "done"
        self.runs_done += 1
        self.status.value = (
            f"<b>run {result.run}</b>: {len(result.event_times)} events (seed {result.seed})<br>{self._rule()}"
        )

    def run(
        self,
        *,
        rate: float | None = None,
        burstiness: float | None = None,
        poll_interval: float | None = None,
        seed: int | None = None,
        show: bool = True,
    ):
        """Run now (blocking), optionally moving sliders first; returns the :class:`ArenaResult`.

        ``seed`` draws this one run's events with another seed (default: the widget's next one).
        ``show=False`` measures one more run with these settings without showing it: the widget's
        sliders, plots and status stay on the run they show (a deep dive's run leaves the numbers
        the lesson printed under the widget alone).
        """
        self.arena.start()
        self.wait_idle()
        if not show:
            moved = {"rate": rate, "burstiness": burstiness, "poll_interval": poll_interval}
            return self._loop.run(self._measure(seed, **moved), 120)
        for slider, value in ((self.rate, rate), (self.burstiness, burstiness), (self.poll_interval, poll_interval)):
            if value is not None:
                self._set_quietly(slider, value)
        self._next_seed = seed
        try:
            self._loop.run(self.shown(self._run_current()), 120)
        finally:
            self._next_seed = None
        return self.result


class Classroom(SliderExperiment):
    """A slider for the number of clients N (up to 1,000); each value adds a point per transport.

    The transports run one after another (each with N clients), so each one's
    server CPU and delay are its own.
    """

    def __init__(
        self,
        arena,
        *,
        clients: int = 100,
        rate: float = 4.0,
        poll_interval: float = 1.0,
        duration: float = 1.5,
        debounce: float = 0.5,
        autorun: bool = True,
    ) -> None:
        self.arena = arena.start()
        self.rate, self.poll_interval, self.duration = rate, poll_interval, duration
        self.runs: dict[int, object] = {}
        style = {"description_width": "10em"}  # em: labels and sliders grow with projector mode's text
        layout = W.Layout(width="33em")
        self.clients = W.IntSlider(
            value=clients,
            min=1,
            max=1000,
            step=1,
            description="clients (N)",
            style=style,
            layout=layout,
            continuous_update=False,
        )
        self.progress = W.FloatProgress(value=0, min=0, max=1, description="idle", style=style, layout=layout)
        self.status = W.HTML("")
        self.plot = PlotView(empty="The plots appear here after the first run: move the slider, or run the next cell.")
        self.widget = W.VBox([W.HBox([self.clients, W.VBox([self.progress, self.status])]), self.plot])
        self._watch(self.arena.labs.get("WebSocket"))
        dress(self.widget)
        super().__init__(arena.clients, (self.clients,), debounce=debounce)
        if autorun:
            self._changed()

    async def _measure(self, n: int):
        self.progress.description = "running"
        merged = None
        for i, name in enumerate(TRANSPORTS):

            def tick(fraction, i=i):
                self.progress.value = (i + fraction) / len(TRANSPORTS)

            self.status.value = f"N = {n}: measuring {name}…"
            one = await self.arena.arun(
                rate=self.rate,
                burstiness=1.0,
                duration=self.duration,
                poll_interval=self.poll_interval,
                clients=n,
                transports=(name,),
                tap=False,
                seed=default_seed() + n,
                on_progress=tick,
            )
            if merged is None:
                merged = ArenaResult(
                    one.rate, one.burstiness, one.duration, one.poll_interval, n, one.event_times, {}, one.seed
                )
            merged.results[name] = one.results[name]
        self.runs[n] = merged
        runs = list(self.runs.values())
        self.plot.show(await render_plot(lambda: plots.classroom(runs, show=False)))
        self.progress.value = 1
        self.progress.description = "done"
        self.runs_done += 1
        self.status.value = f"<b>run {self.runs_done}</b>: N = {n}"
        return merged

    def _changed(self, change=None) -> None:
        self.arena.start()  # a closed arena comes back at the next use of the slider
        super()._changed(change)

    async def _run_current(self) -> None:
        await self._measure(self.clients.value)

    def measure(self, *ns: int):
        """Measure each N now (blocking); returns the results by N."""
        self.arena.start()
        self.wait_idle()
        for n in ns:
            self._set_quietly(self.clients, n)
            self._loop.run(self.shown(self._measure(n)), 300)
        return {n: self.runs[n] for n in ns}
