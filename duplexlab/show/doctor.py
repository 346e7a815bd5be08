"""``dl.doctor()``: one cell a student alone runs when something is off.

It checks what the kernel can see (versions, where the notebook runs, the lab,
the open-file limit, the judge's limits), prints one line for each with what
to do when it is not right, and shows a box that checks, from the browser
itself, what only the browser can tell: whether widgets render, and which ways
to the lab work (straight to its port, through the notebook server's proxy,
over the widget's comm). A headless run prints the lines and says that no
browser checked anything.

Example::

    import duplexlab as dl
    dl.doctor()
"""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import time
import weakref
from dataclasses import dataclass, field

import anywidget
import traitlets

from ..apps.sandbox import enforced_limits, isolation
from ..errors import DuplexLabError
from ..feedback import fit
from ..lab import Lab, current, start
from ..runtime.hygiene import connection_budget
from .where import Frontend, frontend, in_kernel, proxy_installed
from .widgets.base import widget_ids, with_route

__all__ = ["Check", "Checkup", "DoctorProbe", "doctor"]

MARK = {"ok": "✓", "warn": "!", "fail": "✗", "info": "·"}
PACKAGES = (
    "duplexlab",
    "websockets",
    "aiohttp",
    "ipykernel",
    "ipywidgets",
    "anywidget",
    "matplotlib",
    "jupyterlab_widgets",
    "jupyter-server-proxy",
)
WIDTH = 100  # columns a printed line may take
ENOUGH_FILES = 4096  # lesson 6's 1,000 clients, through a tap, with room to spare


@dataclass(frozen=True)
class Check:
    """One line of the checkup: what was checked, what was found, and what to do if it isn't right."""

    name: str
    status: str  # "ok", "warn", "fail" or "info"
    found: str
    todo: str = ""

    def __str__(self) -> str:
        """The check as it prints: wrapped at 100 columns (a projector), the fix on its own lines."""
        lines = textwrap.wrap(
            f"{MARK[self.status]} {self.name}: {self.found}",
            WIDTH,
            subsequent_indent="    ",
            break_on_hyphens=False,
            break_long_words=False,
        )
        if self.todo:
            lines += textwrap.wrap(
                f"→ {self.todo}",
                WIDTH,
                initial_indent="    ",
                subsequent_indent="      ",
                break_on_hyphens=False,
                break_long_words=False,
            )
        return "\n".join(lines)


class DoctorProbe(anywidget.AnyWidget):
    """The browser's half of the checkup: a box that tries each way to the lab from the page."""

    _esm = with_route("doctor.js")
    url = traitlets.Unicode("").tag(sync=True)
    tickets = traitlets.List(traitlets.Unicode()).tag(sync=True)
    routes = traitlets.List(traitlets.Unicode(), ["direct", "proxy", "bridge"]).tag(sync=True)
    found = traitlets.Dict().tag(sync=True)
    """What the browser found, by check: ``{"direct": {"ok": true, "text": "…"}, …}`` (sent when no cell runs)."""

    def __init__(self, lab: Lab) -> None:
        n = next(widget_ids)
        self._lab = lab
        self._owners = [f"dl.doctor() {n}, direct", f"dl.doctor() {n}, proxy"]
        super().__init__(
            url=lab.ws_url + "/echo",
            tickets=[lab.policy.issue_ticket(owner) for owner in self._owners],
            routes=["bridge"] if frontend().name == "Colab" else ["direct", "proxy", "bridge"],
        )
        for owner in self._owners:  # a used ticket is replaced, so a reloaded page checks again
            lab.policy.on_redeem[owner] = weakref.WeakMethod(self._renew)
        self.on_msg(self._heard)

    def _renew(self) -> None:
        self.tickets = [self._lab.policy.issue_ticket(owner) for owner in self._owners]

    def _heard(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("op") == "ping":
            self.send({"op": "pong"})

    def __repr__(self) -> str:  # what a front end without widgets shows instead of the box
        return fit(
            "(no box? widgets don't render in this front end. JupyterLab / Notebook 7: pip install "
            "jupyterlab_widgets where the notebook server runs, then reload the page; Colab: run "
            "from google.colab import output; output.enable_custom_widget_manager(); VS Code: install "
            "the Jupyter extension, then run this cell again)"
        )


@dataclass
class Checkup:
    """What ``dl.doctor()`` found: ``checks`` (the kernel's), ``probe`` (the browser's box)."""

    checks: list[Check]
    probe: DoctorProbe | None = None
    where: Frontend = field(default_factory=frontend)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status in ("warn", "fail")]

    @property
    def browser(self) -> dict:
        """What the browser's box found (empty until the page has sent it, when no cell runs)."""
        return dict(self.probe.found) if self.probe is not None else {}

    def __str__(self) -> str:
        lines = ["duplexlab doctor: what this kernel sees", *map(str, self.checks)]
        found = len(self.problems)
        summary = (
            "kernel checks: all good"
            if not found
            else f"kernel checks: {found} {'thing' if found == 1 else 'things'} to look at (the lines with ! or ✗)"
        )
        if self.probe is not None:
            summary += (
                ". The box below checks your browser; if no box appears, widgets don't render here, and the "
                "message shown in its place says what to do"
            )
        else:
            summary += ". No notebook shows this, so there is no browser to check"
        lines += textwrap.wrap(summary, WIDTH, break_on_hyphens=False, break_long_words=False)
        return "\n".join(lines)

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        from IPython.display import display

        print(self)
        if self.probe is not None:
            display(self.probe)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _versions(where: Frontend) -> Check:
    found = {name: _version(name) for name in PACKAGES}
    python = ".".join(map(str, sys.version_info[:3]))
    text = f"Python {python}, " + ", ".join(f"{n} {v}" for n, v in found.items() if v)
    missing = [n for n in ("websockets", "aiohttp", "ipywidgets", "anywidget", "matplotlib") if not found[n]]
    if sys.version_info < (3, 11) or missing:
        need = "Python 3.11 or newer" if sys.version_info < (3, 11) else ", ".join(missing)
        return Check("versions", "fail", text, f"install {need}: python3 -m pip install -r requirements.txt")
    websockets_major = int((found["websockets"] or "0").split(".")[0])
    if websockets_major < 17:
        return Check("versions", "fail", text, "the course needs websockets 17 or newer: pip install -U websockets")
    if where.name in ("Jupyter", "JupyterHub", "Binder") and not found["jupyterlab_widgets"]:
        return Check(
            "versions",
            "warn",
            text,
            "no jupyterlab_widgets here: if the box below doesn't show, pip install jupyterlab_widgets where the "
            "notebook server runs and reload the page",
        )
    return Check("versions", "ok", text)


def _where(where: Frontend) -> Check:
    text = f"{where.name} ({where.sign}); the browser widget goes {where.ways}"
    if where.name in ("JupyterHub", "Binder") and not proxy_installed():
        return Check(
            "where",
            "warn",
            text,
            "without jupyter-server-proxy the widget talks over the comm only when no cell runs: ask for "
            "pip install jupyter-server-proxy in the hub's image (Binder: it is in requirements.txt)",
        )
    if where.name == "Colab":
        return Check(
            "where",
            "info",
            text,
            "Colab's own port proxy is unreliable for WebSockets (googlecolab/colabtools#2529), so the widget "
            "uses the comm; run the notebook's Colab setup cell first",
        )
    return Check("where", "info", text)


def _lab_answers(lab: Lab) -> Check:
    try:
        with lab.client() as client:
            t0 = time.perf_counter()
            client.get("/api/health")
            http_ms = (time.perf_counter() - t0) * 1000
        ws = lab.connect("/echo")
        try:
            t0 = time.perf_counter()
            ws.send("doctor")
            ws.recv(timeout=5)
            ws_ms = (time.perf_counter() - t0) * 1000
        finally:
            ws.close()
    except Exception as exc:
        return Check(
            "the lab",
            "fail",
            f"{lab.url} does not answer the kernel: {type(exc).__name__}: {exc}",
            "restart the kernel (Kernel → Restart), then run dl.start() again",
        )
    return Check(
        "the lab",
        "ok",
        f"HTTP {lab.url} and WebSocket {lab.ws_url} answer the kernel (a request {http_ms:.1f} ms, "
        f"an echo {ws_ms:.1f} ms)",
    )


def _open_files() -> Check:
    try:
        import resource
    except ImportError:
        return Check("open files", "info", "no per-process limit on this system (Windows)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_text = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    text = f"{soft} allowed (hard limit {hard_text}): room for about {connection_budget():,} connections in the lab"
    if soft < ENOUGH_FILES:
        return Check(
            "open files",
            "warn",
            text,
            f"lesson 6's classroom of 1,000 clients needs about {ENOUGH_FILES}: close Jupyter, run "
            f"ulimit -n {ENOUGH_FILES} in that terminal (at most the hard limit), start Jupyter again",
        )
    return Check("open files", "ok", text)


def _judge() -> Check:
    limits = enforced_limits()
    weak = [k for k, v in limits.items() if "not enforced" in v or "could lift" in v or v.startswith("root:")]
    held = [k for k in ("time", "cpu", "memory", "processes", "output", "files") if k in limits and k not in weak]
    text = "limits your code's " + ", ".join(held)
    if "user" in limits and "user" not in weak:
        text += f", and runs it as {limits['user'].split(' (')[0].split(':')[0]}"
    bwrap = isolation()
    text += (
        "; in classroom mode it would also run it inside bubblewrap"
        if bwrap
        else "; in classroom mode it would be off (no bubblewrap to isolate it)"
    )
    if weak:
        return Check(
            "judge",
            "warn",
            text + "; not enforced on this machine: " + ", ".join(weak),
            "submit only code you trust here; lab.judge.limits says why each one isn't enforced",
        )
    return Check("judge", "ok", text + " (lab.judge.limits has the details)")


def doctor(lab: Lab | None = None) -> Checkup:
    """Check what can go wrong for a student alone, each line with what to do.

    Uses the running lab (or ``lab``); starts one if none runs (``dl.stop()``
    stops it). Shown as a cell's value it prints the lines and shows the
    browser's box; in a script, ``print(dl.doctor())``.
    """
    where = frontend()
    checks = [_versions(where), _where(where)]
    if lab is None:
        try:
            lab = current()
        except DuplexLabError:
            try:
                lab = start()
                checks.append(Check("lab", "info", f"none was running: started one at {lab.url} (dl.stop() stops it)"))
            except DuplexLabError as exc:
                checks.append(Check("the lab", "fail", str(exc), getattr(exc, "hint", "") or "restart the kernel"))
                lab = None
    if lab is not None:
        checks.append(_lab_answers(lab))
    checks += [_open_files(), _judge()]
    probe = DoctorProbe(lab) if in_kernel() and lab is not None and lab.running else None
    return Checkup(checks, probe, where)
