"""Interactive controls for the lessons (ipywidgets).

Widget callbacks may run on any thread (in JupyterLab 4.6, on a subshell
thread), so they never do the work themselves: they hand it to the lab's loop
with its thread-safe calls. Experiments run there; plots are drawn to PNG on a
figure of their own (the notebook's backend is left alone) and shown in an
``Image`` widget.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import time
import weakref

import anywidget
import ipywidgets as W
import traitlets
from matplotlib.figure import Figure

from . import plots
from .experiments import PollingResult, measure_polling
from .lab import Lab
from .runtime import LoopThread

__all__ = [
    "BrowserSocket",
    "Classroom",
    "LabWatch",
    "OTPScreen",
    "PollingExperiment",
    "SideBySide",
    "SliderExperiment",
    "TapControls",
    "figure_png",
]


_widget_ids = itertools.count(1)


def figure_png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes (drawn with Agg, for this figure only).

    75 dpi draws a 12-inch figure at 900 px and a 13-inch one at 975 px: the
    widths the widgets show them at, so the browser doesn't rescale them.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=75)
    return buf.getvalue()


_LAB_WATCH_ESM = r"""
function render({ model, el }) {
  // A line to the lab, opened on a one-use ticket. The lab lives in the kernel: when the line
  // drops (the kernel restarted, or the lab was stopped), say so over the stale controls.
  const note = document.createElement("div");
  note.className = "duplexlab-lab-watch";
  note.style.cssText = "display:none;padding:6px 10px;margin:4px 0;border-radius:4px;" +
    "background:#fff3cd;color:#664d03;border:1px solid #ffda6a;font:13px sans-serif";
  el.append(note);
  let unmounted = false;
  const ws = new WebSocket(model.get("url"), ["duplexlab", "duplexlab.ticket." + model.get("ticket")]);
  ws.onclose = () => {
    if (unmounted) return;
    note.textContent = "Kernel restarted (or the lab stopped): these controls are no longer " +
      "connected and their numbers are stale. Run this cell again.";
    note.style.display = "block";
    const group = el.closest(".widget-vbox");
    if (group) group.style.opacity = "0.55";
  };
  return () => { unmounted = true; ws.close(1000, "unmount"); };
}
export default { render };
"""


class _Ticketed(anywidget.AnyWidget):
    """A widget whose browser view opens a WebSocket to ``lab`` on a one-use ticket.

    The kernel puts the ticket in the widget's state (see :mod:`duplexlab.policy`);
    once a view has used it, the next view (a reload) gets a fresh one.
    """

    url = traitlets.Unicode("").tag(sync=True)
    ticket = traitlets.Unicode("").tag(sync=True)

    def __init__(self, lab: Lab, path: str, owner: str, **kwargs) -> None:
        self._lab = lab
        self.owner = owner
        super().__init__(url=lab.ws_url + path, ticket=lab.policy.issue_ticket(owner), **kwargs)
        lab.policy.on_redeem[owner] = weakref.WeakMethod(self._renew)

    def _renew(self) -> None:
        self.ticket = self._lab.policy.issue_ticket(self.owner)


class LabWatch(_Ticketed):
    """A line from the page to the lab; when it drops, the widget group says the kernel restarted.

    Shown inside each group of controls (it is invisible while all is well).
    """

    _esm = _LAB_WATCH_ESM

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab, "/alive", f"a widget's line to the lab ({next(_widget_ids)})")


class _Shown:
    """A group of widgets in ``self.widget`` that shows itself as the last value of a cell.

    With a lab to watch (``_watch``), a :class:`LabWatch` in the group tells the
    class when the kernel restarted under it.
    """

    widget: W.Widget

    def _watch(self, lab: Lab | None) -> None:
        if lab is not None and lab.running:
            self.widget.children = (*self.widget.children, LabWatch(lab))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class SliderExperiment(_Shown):
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
                await self._run_current()
                if not self._pending:
                    break
        finally:
            self._running = False

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


class PollingExperiment(SliderExperiment):
    """Sliders for a polling experiment; each change re-runs it and redraws the plots.

    Drag *interval* to add a measured point at that interval; changing *judge
    time* or *students* starts a new series. Changes closer together than
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
    ) -> None:
        self.lab = lab
        self.results: list[PollingResult] = []
        style = {"description_width": "110px"}
        layout = W.Layout(width="420px")
        self.interval = W.FloatSlider(value=interval, min=0.1, max=2.0, step=0.1,
                                      description="poll every (s)", style=style, layout=layout,
                                      continuous_update=True, readout_format=".1f")
        self.judge_seconds = W.FloatSlider(value=judge_seconds, min=0.5, max=10.0, step=0.5,
                                           description="judge takes (s)", style=style,
                                           layout=layout, readout_format=".1f")
        self.students = W.IntSlider(value=students, min=1, max=50, description="students",
                                    style=style, layout=layout)
        self.progress = W.IntProgress(value=0, min=0, max=1, description="polls",
                                      style=style, layout=layout)
        self.status = W.HTML(value="")
        self.image = W.Image(format="png", layout=W.Layout(width="900px"))
        self.widget = W.VBox([
            W.HBox([W.VBox([self.interval, self.judge_seconds, self.students]),
                    W.VBox([self.progress, self.status])]),
            self.image,
        ])
        self._watch(lab)
        super().__init__(lab.loop, (self.interval, self.judge_seconds, self.students),
                         debounce=debounce)
        if autorun:
            self._changed()

    async def _run_current(self) -> None:
        await self._run_once(self.interval.value, self.judge_seconds.value, self.students.value)

    def _keep(self, found: list[PollingResult], current: PollingResult | None = None) -> None:
        """Add results to the series (a new series if judge time or students changed); redraw."""
        first = found[0]
        if self.results and (self.results[0].judge_seconds, self.results[0].students) != (
            first.judge_seconds, first.students
        ):
            self.results = []
        done = {r.interval for r in found}
        self.results = [r for r in self.results if r.interval not in done] + list(found)
        fig = Figure(figsize=(12, 3.4), layout="constrained")
        plots.polling_dashboard(self.results, current=current, fig=fig)
        self.image.value = figure_png(fig)

    async def _run_once(self, interval: float, judge_seconds: float, students: int) -> PollingResult:
        self.progress.max = max(1, students * math.ceil(judge_seconds / interval + 2))
        self.progress.value = 0
        self.status.value = (f"measuring: {students} student(s) poll every {interval:g} s "
                             f"for a {judge_seconds:g} s judgement…")

        def tick(reply) -> None:
            self.progress.value = min(self.progress.max, self.progress.value + 1)

        result = await measure_polling(self.lab.url, interval=interval,
                                       judge_seconds=judge_seconds, students=students,
                                       on_reply=tick)
        self.progress.value = self.progress.max
        self._keep([result], current=result)
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
        return self.lab.run(self._run_once(self.interval.value, self.judge_seconds.value,
                                           self.students.value), 120)

    def sweep(self, intervals) -> list[PollingResult]:
        """Measure several intervals at once (blocking), then redraw; returns the results."""
        self.wait_idle()

        async def all_at_once() -> list[PollingResult]:
            judge, students = self.judge_seconds.value, self.students.value
            found = await asyncio.gather(*(
                measure_polling(self.lab.url, interval=i, judge_seconds=judge, students=students)
                for i in intervals
            ))
            self._keep(list(found))
            return list(found)

        return self.lab.run(all_at_once(), 120)


class SideBySide(SliderExperiment):
    """Sliders for the side-by-side run: event rate, burstiness, polling interval.

    Each change re-runs all four transports on the same events and redraws the
    four panels. Example::

        arena = dl.Arena().start()
        dl.widgets.SideBySide(arena)
    """

    def __init__(self, arena, *, rate: float = 3.0, burstiness: float = 1.0,
                 poll_interval: float = 1.0, duration: float = 3.0, debounce: float = 0.3,
                 autorun: bool = True) -> None:
        self.arena = arena.start()
        self.duration = duration
        self.result = None
        style = {"description_width": "130px"}
        layout = W.Layout(width="430px")
        self.rate = W.FloatSlider(value=rate, min=0.5, max=20, step=0.5, description="events per second",
                                  style=style, layout=layout)
        self.burstiness = W.FloatSlider(value=burstiness, min=1, max=10, step=1,
                                        description="events per burst", style=style, layout=layout)
        self.poll_interval = W.FloatSlider(value=poll_interval, min=0.1, max=3, step=0.1,
                                           description="poll every (s)", style=style, layout=layout,
                                           readout_format=".1f")
        self.progress = W.FloatProgress(value=0, min=0, max=1, description="idle",
                                        style=style, layout=layout)
        self.status = W.HTML("")
        self.image = W.Image(format="png", layout=W.Layout(width="980px"))
        self.widget = W.VBox([W.HBox([W.VBox([self.rate, self.burstiness, self.poll_interval]),
                                      W.VBox([self.progress, self.status])]), self.image])
        self._watch(self.arena.labs.get("WebSocket"))
        super().__init__(arena.clients, (self.rate, self.burstiness, self.poll_interval),
                         debounce=debounce)
        if autorun:
            self._changed()

    def _changed(self, change=None) -> None:
        self.arena.start()  # a closed arena comes back at the next use of a slider
        super()._changed(change)

    def _progress(self, fraction: float) -> None:
        self.progress.value = fraction

    async def _run_current(self) -> None:
        self.status.value = "measuring all four transports…"
        self.progress.description = "running"
        result = await self.arena.arun(
            rate=self.rate.value, burstiness=self.burstiness.value, duration=self.duration,
            poll_interval=self.poll_interval.value, clients=1,
            transports=("polling", "long polling", "SSE", "WebSocket"), tap=True,
            on_progress=self._progress)
        self.result = result
        fig = Figure(figsize=(13, 3.4), layout="constrained")
        plots.side_by_side(result, fig=fig)
        self.image.value = figure_png(fig)
        self.progress.value = 1
        self.progress.description = "done"
        self.runs_done += 1
        self.status.value = f"<b>run {self.runs_done}</b>: {len(result.event_times)} events"

    def run(self, *, rate: float | None = None, burstiness: float | None = None,
            poll_interval: float | None = None):
        """Run now (blocking), optionally moving sliders first; returns the :class:`ArenaResult`."""
        self.arena.start()
        self.wait_idle()
        for slider, value in ((self.rate, rate), (self.burstiness, burstiness),
                              (self.poll_interval, poll_interval)):
            if value is not None:
                self._set_quietly(slider, value)
        self._loop.run(self._run_current(), 120)
        return self.result


class Classroom(SliderExperiment):
    """A slider for the number of clients N (up to 1,000); each value adds a point per transport.

    The transports run one after another (each with N clients), so each one's
    server CPU and delay are its own.
    """

    def __init__(self, arena, *, clients: int = 100, rate: float = 4.0, poll_interval: float = 1.0,
                 duration: float = 1.5, debounce: float = 0.5, autorun: bool = True) -> None:
        self.arena = arena.start()
        self.rate, self.poll_interval, self.duration = rate, poll_interval, duration
        self.runs: dict[int, object] = {}
        style = {"description_width": "130px"}
        layout = W.Layout(width="430px")
        self.clients = W.IntSlider(value=clients, min=1, max=1000, step=1, description="clients (N)",
                                   style=style, layout=layout, continuous_update=False)
        self.progress = W.FloatProgress(value=0, min=0, max=1, description="idle",
                                        style=style, layout=layout)
        self.status = W.HTML("")
        self.image = W.Image(format="png", layout=W.Layout(width="980px"))
        self.widget = W.VBox([W.HBox([self.clients, W.VBox([self.progress, self.status])]), self.image])
        self._watch(self.arena.labs.get("WebSocket"))
        super().__init__(arena.clients, (self.clients,), debounce=debounce)
        if autorun:
            self._changed()

    async def _measure(self, n: int):
        from .arena import TRANSPORTS, ArenaResult

        self.progress.description = "running"
        merged = None
        for i, name in enumerate(TRANSPORTS):
            def tick(fraction, i=i):
                self.progress.value = (i + fraction) / len(TRANSPORTS)

            self.status.value = f"N = {n}: measuring {name}…"
            one = await self.arena.arun(rate=self.rate, burstiness=1.0, duration=self.duration,
                                        poll_interval=self.poll_interval, clients=n,
                                        transports=(name,), tap=False, seed=n, on_progress=tick)
            if merged is None:
                merged = ArenaResult(one.rate, one.burstiness, one.duration, one.poll_interval,
                                     n, one.event_times, {})
            merged.results[name] = one.results[name]
        self.runs[n] = merged
        fig = Figure(figsize=(13, 3.4), layout="constrained")
        plots.classroom(list(self.runs.values()), fig=fig)
        self.image.value = figure_png(fig)
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
            self._loop.run(self._measure(n), 300)
        return {n: self.runs[n] for n in ns}


class TapControls(_Shown):
    """Sliders and buttons that break the network inside a tap: latency, idle cut, cut, drop.

    With ``client`` (a :class:`~duplexlab.ResilientClient` that goes through
    the tap), a line under the buttons shows the client's state, its messages
    and connections, refreshed four times a second.

    Example::

        tap = lab.tap(lab.ws_url)
        follower = dl.ResilientClient(tap.url + "/stream/scores").start()
        dl.widgets.TapControls(tap, client=follower)
    """

    def __init__(self, tap, *, client=None) -> None:
        self.tap = tap
        self.client = client
        style = {"description_width": "120px"}
        layout = W.Layout(width="400px")
        self.latency = W.FloatSlider(value=tap.latency * 1000, min=0, max=500, step=10,
                                     description="latency (ms)", style=style, layout=layout)
        self.idle = W.FloatSlider(value=tap.idle_timeout or 0, min=0, max=10, step=0.5,
                                  description="idle cut after (s)", style=style, layout=layout)
        self.idle_action = W.Dropdown(options=[("close both ends", "close"), ("go silent", "silent")],
                                      value=tap.idle_action, description="idle cut", style=style)
        self.cut_button = W.Button(description="Cut now", button_style="danger")
        self.drop_button = W.Button(description="Drop server side", button_style="warning")
        self.status = W.HTML("")
        self.latency.observe(self._set_latency, names="value")
        self.idle.observe(self._set_idle, names="value")
        self.idle_action.observe(self._set_idle, names="value")
        self.cut_button.on_click(lambda _: self._report("cut", tap.cut()))
        self.drop_button.on_click(lambda _: self._report("dropped the server side of", tap.drop_server()))
        self.client_status = W.HTML("")
        self.widget = W.VBox([self.latency, W.HBox([self.idle, self.idle_action]),
                              W.HBox([self.cut_button, self.drop_button]), self.status,
                              self.client_status])
        self._watch(tap.lab)
        if client is not None and tap._loop is not None:
            self._show_client()
            tap._loop.call_soon(lambda: asyncio.get_running_loop().create_task(self._follow()))

    def _show_client(self) -> None:
        c = self.client
        text = (f"client: <b>{c.state.value}</b>, {len(c.received)} message(s), "
                f"{c.connections} connection(s); the tap carries {self.tap.open_connections}")
        if self.client_status.value != text:
            self.client_status.value = text

    async def _follow(self) -> None:
        """Refresh the client's line while the tap runs (on the lab's loop, never the kernel's)."""
        while self.tap._server is not None:
            self._show_client()
            await asyncio.sleep(0.25)

    def _set_latency(self, change) -> None:
        self.tap.latency = change["new"] / 1000  # read by the tap's loop on its next chunk
        self.status.value = (f"latency now {change['new']:g} ms on every chunk, each way "
                             "(messages arrive that much later; nothing breaks)")

    def _set_idle(self, change=None) -> None:
        self.tap.idle_action = self.idle_action.value
        self.tap.idle_timeout = self.idle.value or None  # 0 = never

    def _report(self, what: str, count: int) -> None:
        self.status.value = f"{what} {count} connection(s); {self.tap.open_connections} still open"


class OTPScreen(_Shown):
    """An OTP screen: "Resend in 12 s", then a Resend button, driven by the server.

    The countdown comes from the server's answer: ``resend_after`` when a code
    is sent, the ``Retry-After`` header when a resend is refused (429). The
    screen never guesses.
    """

    def __init__(self, lab: Lab, phone: str = "9876543210") -> None:
        self.lab = lab
        self.phone = phone
        self.client = lab.client(check=False)
        self.resend_at: float | None = None
        self.last_status: int | None = None
        self.title = W.HTML(f"<b>Enter the code sent to {phone}</b>")
        self.code = W.Text(placeholder="6-digit code", layout=W.Layout(width="140px"))
        self.verify_button = W.Button(description="Verify")
        self.countdown = W.Label("")
        self.resend_button = W.Button(description="Resend OTP", disabled=True)
        self.message = W.HTML("")
        self.widget = W.VBox([self.title, W.HBox([self.code, self.verify_button]),
                              W.HBox([self.countdown, self.resend_button]), self.message])
        self._watch(lab)
        self.resend_button.on_click(lambda _: self.send())
        self.verify_button.on_click(lambda _: self.verify(self.code.value))
        self._timer: asyncio.TimerHandle | None = None

    def send(self) -> int:
        """Ask the server for a (new) code; start the countdown it dictates. Returns the status."""
        reply = self.client.post("/api/otp/send", json={"phone": self.phone})
        self.last_status = reply.status
        if reply.status == 200:
            wait = float(reply.json()["resend_after"])
            self.message.value = "A code was sent (look in <code>lab.otp.inbox(phone)</code>)."
        elif reply.status == 429:
            wait = float(reply.headers.get("Retry-After", "1"))
            self.message.value = f"Too soon: the server says retry after {wait:g} s."
        else:
            wait = 0.0
            self.message.value = f"Error {reply.status}: {reply.json().get('error')}"
        self.resend_at = time.perf_counter() + wait
        self.lab.call_soon(self._tick)
        return reply.status

    def verify(self, code: str) -> bool:
        reply = self.client.post("/api/otp/verify", json={"phone": self.phone, "code": code})
        self.last_status = reply.status
        data = reply.json()
        ok = reply.status == 200
        self.message.value = "✓ verified" if ok else f"✗ {data['error']} ({data['hint']})"
        return ok

    @property
    def seconds_left(self) -> int:
        if self.resend_at is None:
            return 0
        return max(0, math.ceil(self.resend_at - time.perf_counter()))

    def _tick(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        left = self.seconds_left
        self.resend_button.disabled = left > 0
        self.countdown.value = f"Resend in {left} s" if left > 0 else ""
        if left > 0:
            wait = (self.resend_at - time.perf_counter()) - (left - 1)
            self._timer = asyncio.get_running_loop().call_later(max(0.01, wait), self._tick)


_BROWSER_SOCKET_ESM = r"""
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "duplexlab-socket";
  box.style.cssText = "border:1px solid #bbb;border-radius:6px;padding:8px;max-width:640px;font:13px sans-serif";
  const status = document.createElement("div");
  status.className = "duplexlab-socket-status";
  const log = document.createElement("ul");
  log.className = "duplexlab-socket-log";
  log.style.cssText = "max-height:180px;overflow:auto;margin:6px 0;padding-left:18px;font-family:monospace";
  const input = document.createElement("input");
  input.className = "duplexlab-socket-input";
  input.placeholder = "type a message";
  const button = document.createElement("button");
  button.className = "duplexlab-socket-send";
  button.textContent = "Send";
  box.append(status, log, input, button);
  el.append(box);
  const show = (text) => { status.textContent = text; };

  let ws = null;
  let unmounted = false;

  // Mount: this view opens its own WebSocket to the lab, at once. The lab lets it in on the
  // one-use ticket the kernel put in the widget's state (offered as a subprotocol, never in
  // the URL), so nothing waits for the kernel, which may be busy running the next cells.
  let opened = false;
  function connect() {
    show("connecting to " + model.get("url") + " …");
    ws = new WebSocket(model.get("url"), ["duplexlab", "duplexlab.ticket." + model.get("ticket")]);
    ws.onopen = () => {
      opened = true;
      show("open: " + model.get("url"));
      model.set("opened", model.get("opened") + 1);
      model.save_changes();
    };
    ws.onmessage = (event) => {
      const item = document.createElement("li");
      item.textContent = event.data;
      log.append(item);
      log.scrollTop = log.scrollHeight;
      model.set("received", [...model.get("received"), event.data].slice(-50));
      model.save_changes();
    };
    ws.onclose = (event) => show(opened
      ? "closed: " + event.code + " " + event.reason
      : "refused by the lab (" + event.code + "): this view's ticket was used up; " +
        "run the widget's cell again");
  }
  connect();

  const send = () => {
    const text = input.value.trim();
    if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(text.startsWith("{") ? text : JSON.stringify({ type: "message", text }));
    input.value = "";
  };
  button.onclick = send;
  input.onkeydown = (event) => { if (event.key === "Enter") send(); };

  // Unmount: anywidget calls this when the view goes away (output cleared, cell re-run).
  return () => {
    unmounted = true;
    if (ws) ws.close(1000, "unmount");
  };
}
export default { render };
"""


class BrowserSocket(_Ticketed):
    """A WebSocket client that runs in the browser, inside the notebook.

    Showing it (mounting) opens a ``WebSocket`` from the page to the lab at
    once: the lab lets it in on a one-use ticket that the kernel put in the
    widget's state (see :mod:`duplexlab.policy`), so it never waits for a busy
    kernel. Clearing the output or re-running the cell (unmounting) closes it
    with code 1000, reason ``"unmount"``. Messages typed into it are sent as
    chat messages; what arrives is listed, and kept in ``received``.

    Example::

        browser = dl.widgets.BrowserSocket(lab, "/chat?name=priya")
        browser             # shows it: the browser connects
        browser.wait_open() # in the next cell: waits, on the lab's side, until it has
    """

    _esm = _BROWSER_SOCKET_ESM
    received = traitlets.List(traitlets.Unicode()).tag(sync=True)
    opened = traitlets.Int(0).tag(sync=True)

    def __init__(self, lab: Lab, path: str, **kwargs) -> None:
        self.path = path
        self.t_created = time.perf_counter()
        super().__init__(lab, path, f"browser widget {next(_widget_ids)} ({path})", **kwargs)

    def records(self) -> list:
        """The lab's records of the sockets this widget's views opened, oldest first."""

        async def mine() -> list:
            return [r for r in self._lab.websockets.records if r.owner == self.owner]

        return self._lab.run(mine(), 5)

    def wait_open(self, timeout: float = 3.0) -> bool:
        """Wait, on the lab's side, until a view of this widget has its socket open.

        Prints one line either way: when it opened, or that no browser shows
        the notebook (a headless run), so nothing below involves the browser.
        """
        deadline = time.perf_counter() + timeout
        while True:
            live = [r for r in self.records() if r.open]
            if live:
                print(f"the browser's socket is open ({(live[-1].t_open - self.t_created) * 1000:.0f} ms "
                      "after the widget was created)")
                return True
            if time.perf_counter() > deadline:
                print(f"no browser opened this widget's socket within {timeout:g} s: nothing shows "
                      "this notebook (a headless run?), so the cells below run without it")
                return False
            time.sleep(0.02)

    def report(self) -> None:
        """Say what became of this widget's sockets: still open, or closed with which code."""
        found = self.records()
        if not found:
            print("no browser has opened this widget's socket (a headless run?)")
            return
        last = found[-1]
        if last.open:
            print(f"{last.path}: still open, {time.perf_counter() - last.t_open:.1f} s; clear the "
                  "widget's output (right-click it → Clear Cell Output), then run this cell again")
        else:
            print(f"{last.path}: closed with {last.close_code} {last.close_reason!r} after "
                  f"{last.t_close - last.t_open:.1f} s open")
