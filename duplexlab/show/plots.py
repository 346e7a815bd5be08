"""Plots for the lessons, on matplotlib figures of their own (pyplot never sees them).

Each function draws on ``ax`` (or ``fig``) when given one, and returns it; tests do that.
Otherwise it draws a :class:`~duplexlab.show.figure.Plot`: a PNG with a short ``alt`` that says
what the figure shows with this run's numbers, and the same data as tables ("Show the
numbers"). It shows the plot where it is called, as ``plt.show()`` did, and returns it
(``show=False``: return it only, as the widgets do).

Every plot is drawn to be read from the back of a room:

- text of :func:`~duplexlab.show.projector.sizes`' ``plot_text_pt`` or more (10 pt; 14 pt
  with ``dl.projector()`` on, titles larger), at 96 dots per inch, in a figure no wider than a
  notebook's output area at 1366 px with the file browser open: the browser does not shrink it;
- lines and text at 4.5:1 contrast or more on a white background (kept in a dark theme too),
  in the Okabe-Ito hues (darkened where needed), which people with any common colour-vision
  deficiency can tell apart; and meaning never by colour alone: markers, line styles, hatching
  and labels differ too.
"""

from __future__ import annotations

import functools
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
from cycler import cycler
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from ..clients.polling import expected_polls
from ..wire.capture import Counts
from .figure import Plot, Table, figure_png
from .projector import is_on, sizes

__all__ = [
    "WIDTH",
    "bytes_split",
    "classroom",
    "contrast",
    "keepalive",
    "polling_dashboard",
    "resume",
    "side_by_side",
    "timeline",
]

# Okabe & Ito's palette (2008), safe for colour-blind readers; orange, green, vermillion and
# purple darkened (same hue) to 4.5:1 or more on white, so lines and labels read on a projector
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, GREY = (
    "#0072B2",
    "#9C6C00",
    "#008460",
    "#BE5400",
    "#BB4D8A",
    "#666666",
)
SERVER_COLOR = ORANGE
CLIENT_COLOR = BLUE
THEORY_COLOR = GREY

TRANSPORT_COLORS = {"polling": VERMILLION, "long polling": ORANGE, "SSE": GREEN, "WebSocket": BLUE}
# each transport also has its own marker, line style and hatching: never colour alone
TRANSPORT_MARKERS = {"polling": "o", "long polling": "s", "SSE": "^", "WebSocket": "D"}
TRANSPORT_LINES = {"polling": "-", "long polling": "--", "SSE": "-.", "WebSocket": ":"}
TRANSPORT_HATCHES = {"polling": "", "long polling": "//", "SSE": "..", "WebSocket": "xx"}

WIDTH = 9.25  # inches: 888 px at 96 dpi, inside a notebook's output area at 1366 px with the file browser open


def contrast(color: str, background: str = "#FFFFFF", alpha: float = 1.0) -> float:
    """WCAG's contrast ratio of ``color`` (drawn at ``alpha`` over ``background``) against ``background``."""
    fg = matplotlib.colors.to_rgb(color)
    bg = matplotlib.colors.to_rgb(background)
    mixed = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg)]

    def luminance(rgb) -> float:
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(mixed), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _style() -> dict[Any, Any]:  # Any keys: matplotlib's stubs list every rc key as a Literal
    s = sizes()
    return {
        "font.size": s.plot_text_pt,
        "axes.titlesize": s.plot_title_pt,
        "axes.labelsize": s.plot_text_pt,
        "xtick.labelsize": s.plot_text_pt,
        "ytick.labelsize": s.plot_text_pt,
        "legend.fontsize": s.plot_text_pt,
        "legend.title_fontsize": s.plot_text_pt,
        "figure.titlesize": s.plot_title_pt,
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "text.color": "black",
        "axes.labelcolor": "black",
        "axes.edgecolor": "black",
        "xtick.color": "black",
        "ytick.color": "black",
        "grid.color": "#B0B0B0",  # a guide, not data
        "boxplot.medianprops.color": "black",
        "boxplot.flierprops.markeredgecolor": "black",
        "axes.prop_cycle": cycler(color=[BLUE, VERMILLION, GREEN, ORANGE, PURPLE]),
    }


# rcParams are global: one drawing at a time (widgets draw on worker threads, cells on the main one)
_drawing = threading.RLock()


def _styled(draw: Callable) -> Callable:
    """Draw under :func:`_style` (this kernel's projector setting), whatever the notebook's settings."""

    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with _drawing, matplotlib.rc_context(_style()):
            return draw(*args, **kwargs)

    return styled


def _figure(normal: tuple[float, float], projector: tuple[float, float] | None = None) -> Figure:
    """A figure pyplot knows nothing of (so the inline backend shows no second copy)."""
    size = projector if projector is not None and is_on() else normal
    return Figure(figsize=size, layout="constrained")


def _plot(fig: Figure, alt: str, tables: Sequence[Table], show: bool) -> Plot:
    plot = Plot(figure_png(fig), alt, tables, text_pt=sizes().plot_text_pt)
    return plot.show() if show else plot


def _wrap(text: str, width_in: float, pt: float) -> str:
    """Wrap a title to the width it has (DejaVu Sans' characters are about 0.6 em wide)."""
    chars = max(12, int(width_in * 72 / (0.62 * pt)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _title(ax, text: str, width_in: float) -> None:
    ax.set_title(_wrap(text, width_in, sizes().plot_title_pt))


def _ms(seconds: float) -> str:
    """Milliseconds as the lessons print them: one decimal under 100 ms (a held request's wait), else whole."""
    ms = seconds * 1000
    return f"{ms:.1f}" if abs(ms) < 100 else f"{ms:.0f}"


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _n(value: float) -> str:
    """A number for a sentence: no trailing .0."""
    return f"{value:g}"


# -- timeline (lessons 01 and 03) ---------------------------------------------------------------


def _describe_timeline(created, requests, learned, t0: float, title: str) -> tuple[str, list[Table]]:
    waits = [(t_seen - created[i]) for i, t_seen in learned.items()]
    times = [*created.values(), *(s for s, _ in requests), *(d for _, d in requests), *learned.values()]
    span = (max(times) - t0) if times else 0.0
    alt = f"{title}. {len(requests)} request(s) in {span:.1f} s; {len(created)} notification(s)"
    waited = f"{_and([_ms(w) for w in waits])} ms on the server"
    if waits and len(learned) == len(created):
        alt += f" waited {waited} before a reply brought them."
    elif waits:
        alt += f"; {len(learned)} reached the client after waiting {waited}, the rest not yet."
    else:
        alt += ", none of them seen by the client yet."
    notes = Table.of(
        "Notifications",
        ["notification", "created (s)", "client knew (s)", "waited (ms)"],
        [
            [i, f"{t - t0:.3f}", f"{learned[i] - t0:.3f}", _ms(learned[i] - t)]
            if i in learned
            else [i, f"{t - t0:.3f}", "-", "-"]
            for i, t in created.items()
        ],
    )
    asked = Table.of(
        "Requests",
        ["request", "sent (s)", "answered (s)"],
        [[k + 1, f"{s - t0:.3f}", f"{d - t0:.3f}"] for k, (s, d) in enumerate(requests)],
    )
    return alt, [notes, asked]


def _draw_waits(ax, created: Mapping[object, float], learned: Mapping[object, float], t0: float) -> None:
    """Each notification's wait on the server (created → learned), its star and its "waited" label."""
    text_pt = sizes().plot_text_pt
    for k, (event_id, t_seen) in enumerate(learned.items()):
        t_made = created[event_id]
        # the wait is time on the server, not travel: the news sits there until a request asks
        ax.hlines(
            1,
            t_made - t0,
            t_seen - t0,
            colors=GREY,
            linestyles=":",
            lw=2,
            label="news waits on the server" if k == 0 else None,
        )
        ax.scatter(
            [t_seen - t0],
            [0],
            s=110,
            marker="*",
            color=GREEN,
            zorder=4,
            label="client learns of it" if k == 0 else None,
        )
        ax.text(
            (t_made + t_seen) / 2 - t0,
            1.22 + 0.42 * (k % 2),  # neighbours' labels on two heights
            f"waited {_ms(t_seen - t_made)} ms",
            ha="center",
            fontsize=text_pt,
            color="#444444",
        )


@_styled
def timeline(
    created: Mapping[object, float],
    requests: Sequence[tuple[float, float]],
    learned: Mapping[object, float],
    *,
    t0: float | None = None,
    title: str = "When the server knew vs when the client knew",
    ax=None,
    show: bool = True,
):
    """Server events, client requests, and the wait in between, on one time axis.

    Args:
        created: event id → when the server created it (lab clock, seconds).
        requests: (sent, answered) times of each client request.
        learned: event id → when the client first learned of it.
        t0: the time shown as 0 (default: the earliest time given).
        ax: draw on these axes and return them (no :class:`Plot`).
        show: show the plot here (a notebook); else only return it.

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``ax``, when given).
    """
    own = ax is None
    if own:
        fig = _figure((WIDTH, 3.1), (WIDTH, 4.2))
        ax = fig.subplots()
    times = [*created.values(), *(s for s, _ in requests), *learned.values()]
    t0 = min(times) if t0 is None and times else (t0 or 0.0)
    for k, (s, d) in enumerate(requests):
        ax.axvline(s - t0, color=CLIENT_COLOR, alpha=0.25, lw=1, gid="guide")
        ax.plot(
            [s - t0, d - t0],
            [0, 0],
            color=CLIENT_COLOR,
            lw=6,
            solid_capstyle="butt",
            label="request in flight (sent → answered)" if k == 0 else None,
        )
    ax.scatter(
        [t - t0 for t in created.values()],
        [1] * len(created),
        s=80,
        color=SERVER_COLOR,
        zorder=3,
        label="server creates a notification",
    )
    ax.scatter(
        [s - t0 for s, _ in requests],
        [0] * len(requests),
        s=250,
        marker="|",
        linewidths=2,
        color=CLIENT_COLOR,
        label="client sends a request",
    )
    _draw_waits(ax, created, learned, t0)
    ax.set_yticks([0, 1], ["client", "server"])
    ax.set_ylim(-0.5, 2.1)
    ax.set_xlabel("seconds")
    if own:
        _title(ax, title, WIDTH)
        fig.legend(loc="outside lower center", ncols=3 if not is_on() else 2, frameon=False)
        alt, tables = _describe_timeline(created, requests, learned, t0, title)
        return _plot(fig, alt, tables, show)
    ax.set_title(title)
    ax.legend(loc="upper left", ncols=3, frameon=False)
    return ax


# -- bytes on the wire (lesson 01) ---------------------------------------------------------------


def _describe_bytes(counts: Counts, title: str) -> tuple[str, list[Table]]:
    rows = [
        ("client → server", counts.header_bytes_up, counts.body_bytes_up),
        ("server → client", counts.header_bytes_down, counts.body_bytes_down),
    ]
    parts = [f"{name} {h + b} B ({h} header, {b} body)" for name, h, b in rows]
    both = counts.header_bytes + counts.body_bytes
    alt = f"{title}: {'; '.join(parts)}. Headers are {counts.header_bytes} of {both} B."
    table = Table.of(
        "Bytes each way", ["direction", "header (B)", "body (B)", "total (B)"], [[n, h, b, h + b] for n, h, b in rows]
    )
    return alt, [table]


@_styled
def bytes_split(counts: Counts, *, title: str = "Bytes on the wire", ax=None, show: bool = True):
    """Header bytes vs body bytes, each way, as stacked bars (headers hatched, bodies plain).

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``ax``, when given).
    """
    own = ax is None
    if own:
        fig = _figure((WIDTH, 2.5), (WIDTH, 3.3))
        ax = fig.subplots()
    rows = ["client → server", "server → client"]
    headers = [counts.header_bytes_up, counts.header_bytes_down]
    bodies = [counts.body_bytes_up, counts.body_bytes_down]
    ax.barh(rows, headers, color="#BBBBBB", edgecolor="black", hatch="//", label="headers")
    ax.barh(rows, bodies, left=headers, color=GREEN, edgecolor="black", label="body")
    for i, (h, b) in enumerate(zip(headers, bodies)):
        ax.text(h + b, i, f"  {h + b} B ({h} header)", va="center", fontsize=sizes().plot_text_pt)
    ax.set_xlabel("bytes")
    ax.set_xlim(0, max(h + b for h, b in zip(headers, bodies)) * 1.6 + 1)
    ax.set_title(title)
    ax.legend(loc="lower right", frameon=False)
    if own:
        alt, tables = _describe_bytes(counts, title)
        return _plot(fig, alt, tables, show)
    return ax


# -- the polling experiment (lesson 02) ------------------------------------------------------------


def _polls_close(r) -> bool:
    want = r.expected_requests_per_student
    return abs(r.requests / r.students - want) <= max(1.0, 0.3 * want)


def _delay_close(r) -> bool:
    mean, theory = r.mean_delay * 1000, r.theory_delay * 1000
    return abs(mean - theory) <= max(0.3 * theory, 20)


def _describe_polling(results, current) -> tuple[str, list[Table]]:
    if not results:
        return "No polling runs yet.", []
    first, last = results[0], results[-1]
    judge, students = first.judge_seconds, first.students

    def polls(r) -> str:
        return f"{r.requests / r.students:.1f}"

    def bytes_each(r) -> str:
        return f"{r.bytes_total / r.students:.0f}"

    def delay(r) -> str:
        return f"{r.mean_delay * 1000:.0f}"

    def theory(r) -> str:
        return f"{r.theory_delay * 1000:.0f}"

    head = f"{students} student(s) polling a {judge:g} s judgement."
    if len(results) == 1:
        r = first
        alt = (
            f"{head} One run so far, every {r.interval:g} s: {polls(r)} polls per student "
            f"({r.wasted / r.students:.1f} wasted), delay {delay(r)} ms (theory {theory(r)} ms), "
            f"{bytes_each(r)} bytes per student."
        )
    else:
        fall = "fall" if first.requests / first.students >= last.requests / last.students else "rise"
        alt = (
            f"{head} Polls per student {fall} from {polls(first)} at {first.interval:g} s to {polls(last)} at "
            f"{last.interval:g} s; the theory line is {'close' if all(map(_polls_close, results)) else 'off'}. "
            f"Delay grows from {delay(first)} ms to {delay(last)} ms (theory {theory(first)} to {theory(last)} ms"
            f"{', close' if all(map(_delay_close, results)) else ', off'}). "
            f"Bytes per student from {bytes_each(first)} to {bytes_each(last)}."
        )
    if current is not None and len(results) > 1:
        alt += f" Ringed: this run, every {current.interval:g} s."
    table = Table.of(
        f"{students} student(s), judge {judge:g} s",
        [
            "interval (s)",
            "polls per student",
            "theory polls",
            "wasted per student",
            "delay (ms)",
            "theory delay (ms)",
            "bytes per student",
        ],
        [
            [
                f"{r.interval:g}",
                polls(r),
                r.expected_requests_per_student,
                f"{r.wasted / r.students:.1f}",
                delay(r),
                theory(r),
                bytes_each(r),
            ]
            for r in results
        ],
    )
    return alt, [table]


def _requests_panel(ax, results, grid: list[float], panel: float) -> None:
    """Polls per student at each interval, the wasted ones, and the theory's line (the dashboard's first panel)."""
    judge, xs = results[0].judge_seconds, [r.interval for r in results]
    ax.plot(
        grid, [expected_polls(judge + g / 2, g) for g in grid], color=THEORY_COLOR, lw=1.5, label="theory: polls needed"
    )
    per_student = [r.requests / r.students for r in results]
    ax.plot(xs, per_student, "o", color=CLIENT_COLOR, ms=7, label="polls per student")
    ax.plot(
        xs, [r.wasted / r.students for r in results], "x", color=VERMILLION, ms=8, mew=2, label='"not yet" (wasted)'
    )
    ax.set_xlabel("poll interval (s)")
    ax.set_ylabel("per student")
    _title(ax, f"Requests for a {judge:g} s judgement", panel)


def _delay_panel(ax, results, grid: list[float], panel: float) -> None:
    """Each student's detection delay, its mean, and the interval/2 + RTT/2 line (the second panel)."""
    xs, rtt = [r.interval for r in results], sorted(r.rtt for r in results)[len(results) // 2]
    for k, r in enumerate(results):
        ax.plot(
            [r.interval] * len(r.delays),
            [d * 1000 for d in r.delays],
            ".",
            color=CLIENT_COLOR,
            ms=5,
            label="each student" if k == 0 else None,
        )
    ax.plot(grid, [(g / 2 + rtt / 2) * 1000 for g in grid], color=THEORY_COLOR, lw=1.5, label="theory: T/2 + RTT/2")
    ax.plot(xs, [r.mean_delay * 1000 for r in results], "o", color=CLIENT_COLOR, mec="black", ms=8, label="mean delay")
    ax.set_xlabel("poll interval (s)")
    ax.set_ylabel("ms")
    _title(ax, "Ready on the server → client knows", panel)


def _bytes_panel(ax, results, panel: float) -> None:
    """All bytes and header bytes per student at each interval (the third panel)."""
    xs = [r.interval for r in results]
    ax.plot(xs, [r.bytes_total / r.students for r in results], "o", color=GREEN, ms=7, label="all bytes")
    ax.plot(xs, [r.header_bytes / r.students for r in results], "s", color=GREY, ms=6, label="of which headers")
    ax.set_xlabel("poll interval (s)")
    ax.set_ylabel("bytes per student")
    _title(ax, "Bytes on the wire", panel)


@_styled
def polling_dashboard(results, *, current=None, fig=None, show: bool = True):
    """Three panels over polling results at several intervals (one series).

    Polls per student (and the wasted ones) with the theory; detection delay
    with the interval/2 + RTT/2 line (a clock-driven poller); bytes per student.

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``fig``, when given).
    """
    own = fig is None
    projector = is_on()
    if own:
        fig = _figure((WIDTH, 3.6), (WIDTH, 7.6))
    results = sorted(results, key=lambda r: r.interval)
    if projector:
        axes = fig.subplot_mosaic([["req", "delay"], ["bytes", "legend"]])
        ax_req, ax_delay, ax_bytes = axes["req"], axes["delay"], axes["bytes"]
        axes["legend"].set_axis_off()
        cols = 2
    else:
        ax_req, ax_delay, ax_bytes = fig.subplots(1, 3)
        cols = 3
    panel = WIDTH / cols
    if not results:
        return _plot(fig, "No polling runs yet.", [], show) if own else fig
    students = results[0].students
    xs = [r.interval for r in results]
    lo, hi = 0.1, max(2.0, max(xs))
    grid = [lo + (hi - lo) * i / 100 for i in range(101)]

    _requests_panel(ax_req, results, grid, panel)
    _delay_panel(ax_delay, results, grid, panel)
    _bytes_panel(ax_bytes, results, panel)

    if current is not None:
        for ax, y in (
            (ax_req, current.requests / current.students),
            (ax_delay, current.mean_delay * 1000),
            (ax_bytes, current.bytes_total / current.students),
        ):
            ax.plot([current.interval], [y], "o", ms=16, mfc="none", mec="black", mew=1.5, label="this run")
    for ax in (ax_req, ax_delay, ax_bytes):
        ax.set_xlim(0, hi * 1.05)
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
        ax.grid(alpha=0.5)
    if projector:
        handles, labels = _handles(ax_req, ax_delay, ax_bytes)
        axes["legend"].legend(handles, labels, loc="center", frameon=False)
    else:
        for ax in (ax_req, ax_delay, ax_bytes):
            ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncols=1)
    fig.suptitle(f"{students} student(s) polling the code judge")
    if own:
        alt, tables = _describe_polling(results, current)
        return _plot(fig, alt, tables, show)
    return fig


def _handles(*axes) -> tuple[list, list[str]]:
    """The legend entries of several axes, each label once."""
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    return handles, labels


# -- four transports side by side (lesson 06) -----------------------------------------------------


def _fmt(value: float, spec: str) -> str:
    return "-" if value != value else format(value, spec)  # NaN: no delivery


def _describe_side_by_side(result) -> tuple[str, list[Table]]:
    rs = list(result.results.values())
    delays = ", ".join(f"{r.name} {_fmt(r.delay_ms(50), '.1f')} ms" for r in rs)
    alt = (
        f"{len(result.event_times)} events at {result.rate:g}/s, polling every {result.poll_interval:g} s. "
        f"Median delay: {delays}."
    )
    if all(r.bytes_total for r in rs):
        alt += " Bytes per event: " + ", ".join(f"{r.name} {_fmt(r.bytes_per_event, '.0f')}" for r in rs) + "."
    table = Table.of(
        f"{len(result.event_times)} events, seed {result.seed}",
        ["transport", "delay p50 (ms)", "p99 (ms)", "requests/event", "bytes/event", "CPU ms/s", "delivered"],
        [
            [
                r.name,
                _fmt(r.delay_ms(50), ".1f"),
                _fmt(r.delay_ms(99), ".0f"),
                _fmt(r.requests_per_event, ".2f"),
                _fmt(r.bytes_per_event, ".0f") if r.bytes_total else "(no tap)",
                f"{r.cpu_per_second * 1000:.2f}",
                f"{r.delivered_share:.0%}",
            ]
            for r in rs
        ],
    )
    return alt, [table]


@_styled
def side_by_side(result, *, fig=None, show: bool = True):
    """Four panels for one side-by-side run: delays, requests, bytes and server CPU per transport.

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``fig``, when given).
    """
    own = fig is None
    if own:
        fig = _figure((WIDTH, 6.0), (WIDTH, 8.0))
    (ax_delay, ax_req), (ax_bytes, ax_cpu) = fig.subplots(2, 2)  # four across would squeeze the names
    panel = WIDTH / 2
    rs = list(result.results.values())
    names = [r.name for r in rs]
    colors = [TRANSPORT_COLORS.get(n, GREY) for n in names]
    hatches = [TRANSPORT_HATCHES.get(n, "") for n in names]
    data = [[d * 1000 for d in r.delays] or [float("nan")] for r in rs]
    labels = [n.replace(" ", "\n") for n in names]  # "long\npolling": no rotated labels
    parts = ax_delay.boxplot(data, tick_labels=labels, showfliers=True, patch_artist=True)
    for patch, color, hatch in zip(parts["boxes"], colors, hatches):
        patch.set_facecolor(matplotlib.colors.to_rgba(color, 0.35))
        patch.set_edgecolor("black")
        patch.set_hatch(hatch)
    half = result.poll_interval / 2 * 1000
    ax_delay.axhline(half, color=VERMILLION, ls="--", lw=1.5, label=f"interval/2 = {half:.0f} ms")
    ax_delay.set_yscale("symlog", linthresh=1)
    highest = max((d for r in rs for d in r.delays), default=0.0) * 1000
    ax_delay.set_ylim(bottom=0, top=max(highest, result.poll_interval * 1000) * 3)  # room above the boxes
    ax_delay.set_ylabel("ms (log above 1)")
    _title(ax_delay, f"Delivery delay (dashed: interval/2 = {half:.0f} ms)", panel)

    ax_req.bar(labels, [r.requests_per_event for r in rs], color=colors, edgecolor="black", hatch=hatches)
    _title(ax_req, "HTTP requests per delivered event", panel)
    heads = [r.header_bytes / max(r.deliveries, 1) for r in rs]
    pays = [r.payload_bytes / max(r.deliveries, 1) for r in rs]
    ax_bytes.bar(labels, heads, color="#BBBBBB", edgecolor="black", hatch="//")
    ax_bytes.bar(labels, pays, bottom=heads, color=colors, edgecolor="black")
    _title(ax_bytes, "Bytes per delivered event", panel)
    ax_bytes.set_ylim(top=max([h + p for h, p in zip(heads, pays)] + [1]) * 1.7)  # room for the legend
    ax_bytes.legend(
        handles=[
            Patch(facecolor="#BBBBBB", edgecolor="black", hatch="//", label="headers"),
            Patch(facecolor="white", edgecolor="black", label="payload"),
        ],
        frameon=False,
        loc="upper right",
    )
    ax_cpu.bar(labels, [r.cpu_per_second * 1000 for r in rs], color=colors, edgecolor="black", hatch=hatches)
    _title(ax_cpu, "Server CPU (ms per second)", panel)
    for ax in (ax_delay, ax_req, ax_bytes, ax_cpu):
        ax.grid(alpha=0.5, axis="y")
    fig.suptitle(
        _wrap(
            f"{len(result.event_times)} events at {result.rate:g}/s (bursts of ~{result.burstiness:g}), "
            f"{result.clients} client(s) per transport, polling every {result.poll_interval:g} s",
            WIDTH,
            sizes().plot_title_pt,
        )
    )
    if own:
        alt, tables = _describe_side_by_side(result)
        return _plot(fig, alt, tables, show)
    return fig


# -- a classroom of N clients (lesson 06) ----------------------------------------------------------


def _describe_classroom(runs) -> tuple[str, list[Table]]:
    if not runs:
        return "No classroom runs yet.", []
    names: list[str] = []
    for run in runs:
        names += [n for n in run.results if n not in names]
    ns = [run.clients for run in runs]

    def per_s(r) -> str:
        return f"{r.requests_during / r.seconds:.0f}" if r.seconds else "-"

    def span(name, value: Callable[[Any], str], unit: str = "") -> str:
        got = [value(run.results[name]) for run in runs if name in run.results]
        return f"{name} {got[0]}{unit}" if len(got) == 1 else f"{name} {got[0]} → {got[-1]}{unit}"

    counted = "N = " + (f"{ns[0]}" if len(ns) == 1 else f"{ns[0]} to {ns[-1]}") + " clients per transport."
    alt = (
        f"{counted} Requests per second during the run: {', '.join(span(n, per_s) for n in names)}. "
        f"Median delay: {', '.join(span(n, lambda r: _fmt(r.delay_ms(50), '.1f'), ' ms') for n in names)}."
    )
    table = Table.of(
        "Each transport with N clients",
        ["N", "transport", "requests/s", "delay p50 (ms)", "CPU ms/s"],
        [
            [run.clients, name, per_s(r), _fmt(r.delay_ms(50), ".1f"), f"{r.cpu_per_second * 1000:.2f}"]
            for run in runs
            for name, r in run.results.items()
        ],
    )
    return alt, [table]


@_styled
def classroom(runs, *, fig=None, show: bool = True):
    """Cost against the number of clients N, one line per transport (its own colour, marker and style).

    ``runs`` is a list of ArenaResult objects at different N.

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``fig``, when given).
    """
    own = fig is None
    projector = is_on()
    if own:
        fig = _figure((WIDTH, 3.6), (WIDTH, 7.6))
    if projector:
        axes = fig.subplot_mosaic([["cpu", "req"], ["delay", "legend"]])
        ax_cpu, ax_req, ax_delay = axes["cpu"], axes["req"], axes["delay"]
        axes["legend"].set_axis_off()
        panel = WIDTH / 2
    else:
        ax_cpu, ax_req, ax_delay = fig.subplots(1, 3)
        panel = WIDTH / 3
    runs = sorted(runs, key=lambda r: r.clients)
    names: list[str] = []
    for run in runs:
        names += [n for n in run.results if n not in names]
    for name in names:
        pts = [(run.clients, run.results[name]) for run in runs if name in run.results]
        ns = [n for n, _ in pts]
        style = {
            "color": TRANSPORT_COLORS.get(name, GREY),
            "marker": TRANSPORT_MARKERS.get(name, "o"),
            "ls": TRANSPORT_LINES.get(name, "-"),
            "ms": 8,
            "lw": 2,
            "label": name,
        }
        ax_cpu.plot(ns, [r.cpu_per_second * 1000 for _, r in pts], **style)
        ax_req.plot(ns, [r.requests_during / r.seconds if r.seconds else 0 for _, r in pts], **style)
        ax_delay.plot(ns, [r.delay_ms(50) for _, r in pts], **style)
    _title(ax_cpu, "Server CPU (ms per second)", panel)
    _title(ax_req, "HTTP requests per second, during the run", panel)
    _title(ax_delay, "Median delivery delay (ms)", panel)
    measured_ns = sorted({run.clients for run in runs})
    for ax in (ax_cpu, ax_req, ax_delay):
        ax.set_xscale("log")
        ax.set_xticks(measured_ns, [str(n) for n in measured_ns])  # a label at every measured N
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("clients (N)")
        ax.grid(alpha=0.5)
    ax_delay.set_yscale("log")
    ax_delay.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 100, not 10²
    ax_delay.yaxis.set_minor_formatter(NullFormatter())
    handles, labels = _handles(ax_cpu)
    if projector:
        axes["legend"].legend(handles, labels, loc="center", frameon=False)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels) or 1, frameon=False)
    if own:
        alt, tables = _describe_classroom(runs)
        return _plot(fig, alt, tables, show)
    return fig


# -- resume across cuts (lesson 07) ----------------------------------------------------------------


def _describe_resume(published, clients, cuts, t0: float) -> tuple[str, list[Table]]:
    span = (max(published) - t0) if published else 0.0
    alt = (
        f"{len(published)} messages published in {span:.1f} s, with {len(cuts)} cut(s). "
        + "; ".join(f"{name}: {len(received)} received" for name, received in clients.items())
        + "."
    )
    got = Table.of(
        "Messages received",
        ["client", "received", "of published", "last one at (s)"],
        [
            [name, len(received), len(published), f"{received[-1][2] - t0:.2f}" if received else "-"]
            for name, received in clients.items()
        ],
    )
    cut = Table.of("Cuts", ["cut", "at (s)"], [[k + 1, f"{t - t0:.2f}"] for k, t in enumerate(cuts)])
    return alt, [got, cut]


@_styled
def resume(published, clients, cuts, *, t0=None, ax=None, show: bool = True):
    """Messages published vs received over time, per client, with the moments of each cut.

    Args:
        published: times at which messages 1, 2, 3, … were published.
        clients: name → list of (seq, data, time received), as ResilientClient.received.
        cuts: times at which the connection was cut.

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``ax``, when given).
    """
    own = ax is None
    if own:
        fig = _figure((WIDTH, 3.4), (WIDTH, 4.6))
        ax = fig.subplots()
    t0 = min(published) if t0 is None and published else (t0 or 0.0)
    ax.step(
        [t - t0 for t in published],
        range(1, len(published) + 1),
        where="post",
        color="#767676",
        lw=7,
        label="published",
    )
    styles = ["-", "--", ":"]
    colors = [BLUE, PURPLE, GREEN]  # never the cuts' vermillion
    for i, (name, received) in enumerate(clients.items()):
        ax.step(
            [t - t0 for _, _, t in received],
            range(1, len(received) + 1),
            where="post",
            color=colors[i % 3],
            ls=styles[i % 3],
            lw=2,
            label=f"{name}: {len(received)} received",
            path_effects=[patheffects.withStroke(linewidth=4, foreground="white")],  # apart from the grey band
        )
    for k, t in enumerate(cuts):
        ax.axvline(t - t0, color=VERMILLION, lw=1.5, ls=(0, (1, 2)), label="cut" if k == 0 else None)
    ax.set_xlabel("seconds")
    ax.set_ylabel("messages")
    ax.set_title("Messages published vs received, across cuts")
    ax.legend(frameon=False, loc="upper left")
    ax.grid(alpha=0.5)
    if own:
        alt, tables = _describe_resume(published, clients, cuts, t0)
        return _plot(fig, alt, tables, show)
    return ax


# -- keepalive (lesson 07) --------------------------------------------------------------------------


def _describe_keepalive(settings, measured) -> tuple[str, list[Table]]:
    pairs = [
        f"{m:.2f} s for {_n(p)} + {_n(t)} + {_n(c)} = {p + t + c:.2f} s" for (p, t, c), m in zip(settings, measured)
    ]
    alt = f"Time to notice a dead connection, measured vs ping interval + timeout + close timeout: {'; '.join(pairs)}."
    table = Table.of(
        "Noticing a dead connection",
        ["ping interval (s)", "ping timeout (s)", "close timeout (s)", "sum (s)", "measured (s)"],
        [[_n(p), _n(t), _n(c), f"{p + t + c:.2f}", f"{m:.2f}"] for (p, t, c), m in zip(settings, measured)],
    )
    return alt, [table]


@_styled
def keepalive(settings, measured, *, ax=None, show: bool = True):
    """Measured time to notice a dead connection vs ping_interval + ping_timeout + close_timeout.

    Returns:
        The :class:`~duplexlab.show.figure.Plot` (or ``ax``, when given).
    """
    own = ax is None
    if own:
        fig = _figure((WIDTH, 3.4), (WIDTH, 4.6))
        ax = fig.subplots()
    labels = [f"ping {p:g} s\ntimeout {t:g} s\nclose {c:g} s" for p, t, c in settings]
    expected = [p + t + c for p, t, c in settings]
    xs = range(len(settings))
    ax.bar(
        [x - 0.2 for x in xs],
        expected,
        width=0.4,
        color="#BBBBBB",
        edgecolor="black",
        hatch="//",
        label="interval + timeout + close",
    )
    bars = ax.bar([x + 0.2 for x in xs], measured, width=0.4, color=BLUE, edgecolor="black", label="measured")
    ax.bar_label(bars, [f"{m:.2f} s" for m in measured], padding=2, fontsize=sizes().plot_text_pt)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("seconds")
    ax.set_ylim(top=max([*expected, *measured, 0.1]) * 1.45)
    ax.set_title("How long until a dead connection is noticed")
    ax.legend(frameon=False, loc="upper left")
    if own:
        alt, tables = _describe_keepalive(settings, measured)
        return _plot(fig, alt, tables, show)
    return ax


# for tests: every line and text colour a plot uses (checked for contrast against white)
COLORS = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, GREY, THEORY_COLOR)
