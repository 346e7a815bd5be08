"""Lesson 2's polling experiment: sliders for the judge's time and the interval, a dashboard of runs."""

from __future__ import annotations

import asyncio
import math

import ipywidgets as W

from ...clients.http import AsyncClient
from ...clients.seat import Seat, current_seat
from ...experiments.polling import PollingResult, measure_polling
from ...lab import Lab
from .. import plots
from ..projector import dress
from .base import SliderExperiment, render_plot
from .plot import PlotView

__all__ = ["PollingExperiment"]


class PollingExperiment(SliderExperiment):
    """Sliders for a polling experiment; each change re-runs it and redraws the plots.

    Drag *interval* to add a measured point at that interval; changing *judge
    time* or *students* starts a new series. In a classroom, *interval* follows the
    class's polling interval the teacher sets on the dashboard: by default for a
    student who joined (``dl.join``), or for the seat given as ``follow``
    (``follow=False``: keep your own). Changes closer together than
    ``debounce`` seconds count as one, and a run never overlaps another.

    Example::

        exp = dl.widgets.PollingExperiment(lab)
        exp            # shows the sliders and the plots
        exp.measure(0.5)   # a blocking run from code, same as dragging to 0.5
    """

    def __init__(
        self,
        lab: Lab,
        *,
        interval: float = 1.0,
        judge_seconds: float = 3.0,
        students: int = 5,
        debounce: float = 0.3,
        autorun: bool = True,
        follow: Seat | bool | None = None,
    ) -> None:
        self.lab = lab
        if follow is None or follow is True:
            follow = current_seat()  # a student who joined a class follows the teacher's slider
        self.follow = follow if isinstance(follow, Seat) else None
        self.results: list[PollingResult] = []
        style = {"description_width": "8.5em"}  # em: labels and sliders grow with projector mode's text
        layout = W.Layout(width="32em")
        self.interval = W.FloatSlider(
            value=interval,
            min=0.1,
            max=2.0,
            step=0.1,
            description="poll every (s)",
            style=style,
            layout=layout,
            continuous_update=True,
            readout_format=".1f",
        )
        self.judge_seconds = W.FloatSlider(
            value=judge_seconds,
            min=0.5,
            max=10.0,
            step=0.5,
            description="judge takes (s)",
            style=style,
            layout=layout,
            readout_format=".1f",
        )
        self.students = W.IntSlider(value=students, min=1, max=50, description="students", style=style, layout=layout)
        self.progress = W.IntProgress(value=0, min=0, max=1, description="polls", style=style, layout=layout)
        self.status = W.HTML(value="")
        self.plot = PlotView(empty="The plots appear here after the first run: drag poll every, or run the next cell.")
        self.widget = W.VBox(
            [
                W.HBox(
                    [W.VBox([self.interval, self.judge_seconds, self.students]), W.VBox([self.progress, self.status])]
                ),
                self.plot,
            ]
        )
        self._watch(lab)
        dress(self.widget)
        super().__init__(lab.loop, (self.interval, self.judge_seconds, self.students), debounce=debounce)
        if autorun:
            self._changed()
        if self.follow is not None:
            seat = self.follow
            lab.call_soon(lambda: asyncio.get_running_loop().create_task(self._follow_teacher(seat)))

    async def _follow_teacher(self, seat: Seat) -> None:
        """In a classroom: move *interval* when the teacher's dashboard sets the class's polling interval."""
        async with AsyncClient(seat.url, headers=seat.headers, check=False, timeout=2) as teacher:
            while self.lab.running:
                try:
                    reply = await teacher.get("/api/classroom/settings")
                    wanted = reply.json().get("poll_interval") if reply.status == 200 else None
                except Exception:
                    wanted = None  # the teacher's laptop is away: keep the student's own value
                if isinstance(wanted, int | float) and abs(wanted - self.interval.value) > 1e-9:
                    self.interval.value = wanted  # observed like a drag: the experiment runs again
                    self.status.value = f"the teacher set the class's polling interval to {wanted:g} s"
                await asyncio.sleep(1.0)

    async def _run_current(self) -> None:
        await self._run_once(self.interval.value, self.judge_seconds.value, self.students.value)

    async def _keep(self, found: list[PollingResult], current: PollingResult | None = None) -> None:
        """Add results to the series (a new series if judge time or students changed); redraw."""
        first = found[0]
        if self.results and (self.results[0].judge_seconds, self.results[0].students) != (
            first.judge_seconds,
            first.students,
        ):
            self.results = []
        done = {r.interval for r in found}
        self.results = [r for r in self.results if r.interval not in done] + list(found)
        results = list(self.results)
        self.plot.show(await render_plot(lambda: plots.polling_dashboard(results, current=current, show=False)))

    async def _run_once(self, interval: float, judge_seconds: float, students: int) -> PollingResult:
        self.progress.max = max(1, students * math.ceil(judge_seconds / interval + 2))
        self.progress.value = 0
        self.status.value = (
            f"measuring: {students} student(s) poll every {interval:g} s for a {judge_seconds:g} s judgement…"
        )

        def tick(reply) -> None:
            self.progress.value = min(self.progress.max, self.progress.value + 1)

        result = await measure_polling(
            self.lab.url, interval=interval, judge_seconds=judge_seconds, students=students, on_reply=tick
        )
        self.progress.value = self.progress.max
        await self._keep([result], current=result)
        self.runs_done += 1
        self.status.value = (
            f"<b>run {self.runs_done}</b>: every {interval:g} s → "
            f"{result.requests / students:.1f} polls per student, "
            f"{result.wasted / students:.1f} wasted, delay {result.mean_delay * 1000:.0f} ms"
        )
        return result

    # -- from a cell -------------------------------------------------------------

    def measure(self, interval: float | None = None) -> PollingResult:
        """Run the experiment now at ``interval`` (blocking) and redraw; returns the result."""
        self.wait_idle()
        if interval is not None:
            self._set_quietly(self.interval, interval)
        return self.lab.run(
            self.shown(self._run_once(self.interval.value, self.judge_seconds.value, self.students.value)), 120
        )

    def sweep(self, intervals) -> list[PollingResult]:
        """Measure several intervals at once (blocking), then redraw; returns the results."""
        self.wait_idle()

        async def all_at_once() -> list[PollingResult]:
            judge, students = self.judge_seconds.value, self.students.value
            found = await asyncio.gather(
                *(measure_polling(self.lab.url, interval=i, judge_seconds=judge, students=students) for i in intervals)
            )
            await self._keep(list(found))
            return list(found)

        return self.lab.run(self.shown(all_at_once()), 120)
