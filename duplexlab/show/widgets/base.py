"""What every widget of the course shares: PNG figures, the line to the lab, the debounced slider run."""

from __future__ import annotations

import asyncio
import html
import itertools
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anywidget
import ipywidgets as W
import traitlets
from matplotlib.figure import Figure

from ...feedback import mark_html
from ...lab import Lab
from ...runtime.loop import LoopThread
from ..figure import Plot
from ..figure import figure_png as _figure_png
from ..where import frontend

T = TypeVar("T")

__all__ = [
    "ControlNames",
    "LabWatch",
    "Shown",
    "SliderExperiment",
    "TicketedWidget",
    "figure_png",
    "render_plot",
    "render_png",
    "widget_ids",
    "with_route",
]


JS = Path(__file__).parent.parent / "js"


widget_ids = itertools.count(1)


async def render_plot(make: Callable[[], Plot]) -> Plot:
    """Draw a plot (its PNG, alt and tables) on a worker thread, so the loop's servers never wait for it.

    ``make`` is a ``dl.plots`` call with ``show=False``; show the result in a :class:`PlotView`.
    """
    return await asyncio.get_running_loop().run_in_executor(None, make)


async def render_png(draw: Callable[[Figure], object], figsize: tuple[float, float]) -> bytes:
    """Draw on a figure of ``figsize`` inches and encode it as PNG on a worker thread (see :func:`render_plot`)."""

    def work() -> bytes:
        fig = Figure(figsize=figsize, layout="constrained")
        draw(fig)
        return figure_png(fig)

    return await asyncio.get_running_loop().run_in_executor(None, work)


def figure_png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes (Agg, this figure only), at 96 dpi on a white face.

    At 96 dpi a point in the figure is a point on screen when the browser shows the PNG at its
    own size; the white face keeps it readable in a dark theme too.
    """
    return _figure_png(fig)


_ROUTE_JS = (JS / "route.js").read_text(encoding="utf-8")


def with_route(name: str) -> str:
    """A widget's JavaScript: ``route.js`` (the way to the lab), then ``js/<name>``."""
    return _ROUTE_JS + "\n" + (JS / name).read_text(encoding="utf-8")


_LAB_WATCH_ESM = with_route("lab_watch.js")


class TicketedWidget(anywidget.AnyWidget):
    """A widget whose browser view opens a WebSocket to ``lab`` on a one-use ticket.

    The kernel puts the ticket in the widget's state (see :mod:`duplexlab.runtime.policy`);
    once a view has used it, the next view (a reload) gets a fresh one.
    """

    url = traitlets.Unicode("").tag(sync=True)
    ticket = traitlets.Unicode("").tag(sync=True)
    routes = traitlets.List(traitlets.Unicode(), ["direct", "proxy"]).tag(sync=True)
    """The ways a view may try (``route.js``): ``"direct"``, ``"proxy"``, ``"bridge"``."""
    route = traitlets.Unicode("").tag(sync=True)
    """The way the last view found, as the page reported it (it reaches the kernel when no cell runs)."""

    def __init__(self, lab: Lab, path: str, owner: str, **kwargs) -> None:
        self._lab = lab
        self.owner = owner
        super().__init__(url=lab.ws_url + path, ticket=lab.policy.issue_ticket(owner), **kwargs)
        lab.policy.on_redeem[owner] = weakref.WeakMethod(self._renew)

    def _renew(self) -> None:
        self.ticket = self._lab.policy.issue_ticket(self.owner)


class LabWatch(TicketedWidget):
    """A line from the page to the lab; when it drops, the widget group says the kernel restarted.

    Shown inside each group of controls (it is invisible while all is well).
    """

    _esm = _LAB_WATCH_ESM

    def __init__(self, lab: Lab) -> None:
        # In Colab the page can't reach the lab's port: don't knock on the student's own 127.0.0.1.
        routes = [] if frontend().name == "Colab" else ["direct", "proxy"]
        super().__init__(lab, "/alive", f"a widget's line to the lab ({next(widget_ids)})", routes=routes)


class ControlNames(anywidget.AnyWidget):
    """Invisible, inside a group of controls: gives every control of the group an accessible name and a
    visible focus ring, and does it again when a control is drawn again (``js/a11y.js``).

    ipywidgets' slider handles have no name of their own (upstream: jupyter-widgets/ipywidgets#2650):
    this one takes the slider's description.
    """

    _esm = (JS / "a11y.js").read_text(encoding="utf-8") + "\n" + (JS / "control_names.js").read_text(encoding="utf-8")


class Shown:
    """A group of widgets in ``self.widget`` that shows itself as the last value of a cell.

    ``_watch`` adds the group's helpers: :class:`ControlNames` (names for screen readers, focus
    rings; a ``status`` line becomes a live region a screen reader reads out when it changes), and
    with a lab to watch a :class:`LabWatch`, which tells the class when the kernel restarted under it.
    """

    widget: W.Widget

    def _watch(self, lab: Lab | None) -> None:
        status = getattr(self, "status", None)
        if isinstance(status, W.HTML):
            status.add_class("duplexlab-status")
        helpers: list[W.Widget] = [ControlNames()]
        if lab is not None and lab.running:
            helpers.append(LabWatch(lab))
        self.widget.children = (*self.widget.children, *helpers)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class SliderExperiment(Shown):
    """Sliders that re-run an experiment on an event loop thread, debounced and single-flight.

    Slider callbacks may arrive on any thread; they only count the change and
    hand over to ``loop`` with its thread-safe call. There, changes closer
    together than ``debounce`` seconds count as one, a run never overlaps
    another, and a change during a run makes one more run at the end.
    Subclasses define ``async def _run_current(self)``.
    """

    def __init__(self, loop: LoopThread, sliders, *, debounce: float = 0.3) -> None:
        self._loop = loop
        self.debounce = debounce
        self.runs_done = 0
        self.last_error = ""
        self._timer: asyncio.TimerHandle | None = None
        self._running = False
        self._pending = False
        self._changes = 0  # slider changes asked for, from any thread
        self._seen = 0  # changes a run has started for (loop thread only)
        for slider in sliders:
            slider.observe(self._changed, names="value")

    def _changed(self, change=None) -> None:
        self._changes += 1
        self._loop.call_soon(self._debounce)

    def _debounce(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.debounce, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._running:
            self._pending = True
            return
        self._running = True
        asyncio.get_running_loop().create_task(self._run_and_draw())

    async def _run_and_draw(self) -> None:
        try:
            while True:
                self._pending = False
                self._seen = self._changes
                await self.shown(self._run_current())
                if not self._pending:
                    break
        except Exception:
            pass  # shown in the widget by shown(); a slider's run has no cell to raise into
        finally:
            self._running = False

    async def shown(self, work: Awaitable[T]) -> T:
        """Await ``work``; if it fails, say so in the widget (and raise, for a cell that waits)."""
        try:
            return await work
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            status, progress = getattr(self, "status", None), getattr(self, "progress", None)
            if status is not None:
                status.value = f"{mark_html('✗')}<b>run failed</b>: {html.escape(self.last_error)}"
            if progress is not None:
                progress.description = "failed"
            raise

    async def _run_current(self) -> None:
        raise NotImplementedError

    def _set_quietly(self, slider, value) -> None:
        """Move a slider from code without triggering a run."""
        slider.unobserve(self._changed, names="value")
        try:
            slider.value = value
        finally:
            slider.observe(self._changed, names="value")

    def wait_idle(self, timeout: float = 120) -> None:
        """Block until no run is scheduled or running (for scripts and tests)."""
        end = time.perf_counter() + timeout
        while self._timer is not None or self._running or self._seen != self._changes:
            if time.perf_counter() > end:
                raise TimeoutError("the experiment is still running")
            time.sleep(0.05)
