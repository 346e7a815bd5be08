"""Plots for the lessons, on matplotlib (the notebook's inline backend shows them).

Each function draws on ``ax`` when given one (tests and dashboards do that) and
otherwise makes a figure of its own and shows it. Every plot is drawn for a
projector: text of 10 pt or more, no rotated tick labels, a white background
(readable in a dark theme too) and the Okabe-Ito colours, which people with
any common colour-vision deficiency can tell apart.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from ..clients.polling import expected_polls
from ..wire.capture import Counts

__all__ = [
    "bytes_split",
    "classroom",
    "keepalive",
    "polling_dashboard",
    "resume",
    "side_by_side",
    "timeline",
]

# Okabe & Ito's palette (2008), safe for colour-blind readers
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, GREY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#7F7F7F",
)
SERVER_COLOR = ORANGE
CLIENT_COLOR = BLUE

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 12,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": "black",
    "axes.labelcolor": "black",
    "xtick.color": "black",
    "ytick.color": "black",
}


def _styled(draw):
    """Draw under :data:`STYLE`, whatever the notebook's settings."""

    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return styled


def _axes(ax, size):
    if ax is not None:
        return ax, False
    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax, True


@_styled
def timeline(
    created: Mapping[object, float],
    requests: Sequence[tuple[float, float]],
    learned: Mapping[object, float],
    *,
    t0: float | None = None,
    title: str = "When the server knew vs when the client knew",
    ax=None,
):
    """Server events, client requests, and the wait in between, on one time axis.

    Args:
        created: event id → when the server created it (lab clock, seconds).
        requests: (sent, answered) times of each client request.
        learned: event id → when the client first learned of it.
        t0: the time shown as 0 (default: the earliest time given).
    """
    ax, own = _axes(ax, (9, 2.8))
    times = [*created.values(), *(s for s, _ in requests), *learned.values()]
    t0 = min(times) if t0 is None and times else (t0 or 0.0)
    for k, (s, d) in enumerate(requests):
        ax.axvline(s - t0, color=CLIENT_COLOR, alpha=0.25, lw=1)
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
            [t_seen - t0], [0], s=90, marker="*", color=GREEN, zorder=4, label="client learns of it" if k == 0 else None
        )
        ax.text(
            (t_made + t_seen) / 2 - t0,
            1.18 + 0.3 * (k % 2),  # neighbours' labels on two heights
            f"waited {(t_seen - t_made) * 1000:.0f} ms",
            ha="center",
            fontsize=10,
            color="dimgray",
        )
    ax.set_yticks([0, 1], ["client", "server"])
    ax.set_ylim(-0.5, 2.3)
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=10, ncols=3, frameon=False)
    if own:
        plt.show()
    return None if own else ax


@_styled
def bytes_split(counts: Counts, *, title: str = "Bytes on the wire", ax=None):
    """Header bytes vs body bytes, each way, as stacked bars."""
    ax, own = _axes(ax, (7, 2.2))
    rows = ["client → server", "server → client"]
    headers = [counts.header_bytes_up, counts.header_bytes_down]
    bodies = [counts.body_bytes_up, counts.body_bytes_down]
    ax.barh(rows, headers, color=GREY, label="headers")
    ax.barh(rows, bodies, left=headers, color=GREEN, label="body")
    for i, (h, b) in enumerate(zip(headers, bodies)):
        ax.text(h + b, i, f"  {h + b} B ({h} header)", va="center", fontsize=10)
    ax.set_xlabel("bytes")
    ax.set_xlim(0, max(h + b for h, b in zip(headers, bodies)) * 1.45 + 1)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=10, frameon=False)
    if own:
        plt.show()
    return None if own else ax


@_styled
def polling_dashboard(results, *, current=None, fig=None):
    """Three panels over polling results at several intervals (one series).

    Polls per student (and the wasted ones) with the theory; detection delay
    with the interval/2 + RTT/2 line (a clock-driven poller); bytes per student.
    """
    own = fig is None
    if own:
        fig = plt.figure(figsize=(12, 3.4), layout="constrained")
    ax_req, ax_delay, ax_bytes = fig.subplots(1, 3)
    results = sorted(results, key=lambda r: r.interval)
    if not results:
        return fig
    judge, students = results[0].judge_seconds, results[0].students
    xs = [r.interval for r in results]
    lo, hi = 0.1, max(2.0, max(xs))
    grid = [lo + (hi - lo) * i / 100 for i in range(101)]

    ax_req.plot(xs, [r.requests / r.students for r in results], "o", color=CLIENT_COLOR, label="polls")
    ax_req.plot(xs, [r.wasted / r.students for r in results], "x", color=VERMILLION, label='wasted ("not yet")')
    ax_req.plot(grid, [expected_polls(judge + g / 2, g) for g in grid], color="gray", lw=1, label="theory")
    ax_req.set_xlabel("poll interval (s)")
    ax_req.set_ylabel("per student")
    ax_req.set_title(f"Requests for a {judge:g} s judgement")

    rtt = sorted(r.rtt for r in results)[len(results) // 2]
    for r in results:
        ax_delay.plot([r.interval] * len(r.delays), [d * 1000 for d in r.delays], ".", color=CLIENT_COLOR, alpha=0.25)
    ax_delay.plot(xs, [r.mean_delay * 1000 for r in results], "o", color=CLIENT_COLOR, label="measured mean")
    theory = [(g / 2 + rtt / 2) * 1000 for g in grid]  # a clock-driven poller
    ax_delay.plot(grid, theory, color="gray", lw=1, label="theory: interval/2 + RTT/2")
    ax_delay.set_xlabel("poll interval (s)")
    ax_delay.set_ylabel("ms")
    ax_delay.set_title("Ready on the server → client knows")

    ax_bytes.plot(xs, [r.bytes_total / r.students for r in results], "o", color=GREEN, label="all bytes")
    ax_bytes.plot(xs, [r.header_bytes / r.students for r in results], "s", color=GREY, label="of which headers")
    ax_bytes.set_xlabel("poll interval (s)")
    ax_bytes.set_ylabel("bytes per student")
    ax_bytes.set_title("Bytes on the wire")

    if current is not None:
        for ax, y in (
            (ax_req, current.requests / current.students),
            (ax_delay, current.mean_delay * 1000),
            (ax_bytes, current.bytes_total / current.students),
        ):
            ax.plot([current.interval], [y], "o", ms=14, mfc="none", mec="black", label="this run")
    for ax in (ax_req, ax_delay, ax_bytes):
        ax.set_xlim(0, hi * 1.05)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=10, frameon=False)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{students} student(s) polling the code judge", fontsize=10)
    if own:
        plt.show()
        return None
    return fig


TRANSPORT_COLORS = {"polling": VERMILLION, "long polling": ORANGE, "SSE": GREEN, "WebSocket": BLUE}


@_styled
def side_by_side(result, *, fig=None):
    """Four panels for one side-by-side run: delays, requests, bytes and server CPU per transport."""
    own = fig is None
    if own:
        fig = plt.figure(figsize=(13, 3.4), layout="constrained")
    ax_delay, ax_req, ax_bytes, ax_cpu = fig.subplots(1, 4)
    rs = list(result.results.values())
    names = [r.name for r in rs]
    colors = [TRANSPORT_COLORS.get(n, "gray") for n in names]
    data = [[d * 1000 for d in r.delays] or [float("nan")] for r in rs]
    labels = [n.replace(" ", "\n") for n in names]  # "long\npolling": no rotated labels
    parts = ax_delay.boxplot(data, tick_labels=labels, showfliers=True, patch_artist=True)
    for patch, color in zip(parts["boxes"], colors):
        patch.set_facecolor(color)
        patch.set_alpha(0.5)
    ax_delay.axhline(
        result.poll_interval / 2 * 1000,
        color=VERMILLION,
        ls="--",
        lw=1,
        label=f"polling theory: interval/2 = {result.poll_interval / 2 * 1000:.0f} ms",
    )
    ax_delay.set_yscale("symlog", linthresh=1)
    highest = max((d for r in rs for d in r.delays), default=0.0) * 1000
    ax_delay.set_ylim(bottom=0, top=max(highest, result.poll_interval * 1000) * 2)  # room above the boxes
    ax_delay.set_ylabel("ms (log scale above 1)")
    ax_delay.set_title(f"Delivery delay\n(dashed: interval/2 = {result.poll_interval / 2 * 1000:.0f} ms)")

    ax_req.bar(labels, [r.requests_per_event for r in rs], color=colors)
    ax_req.set_title("HTTP requests per delivered event")
    heads = [r.header_bytes / max(r.deliveries, 1) for r in rs]
    pays = [r.payload_bytes / max(r.deliveries, 1) for r in rs]
    ax_bytes.bar(labels, heads, color=GREY)
    ax_bytes.bar(labels, pays, bottom=heads, color=colors)
    ax_bytes.set_title("Bytes per delivered event")
    ax_bytes.set_ylim(top=max([h + p for h, p in zip(heads, pays)] + [1]) * 1.45)  # room for the legend
    ax_bytes.legend(
        handles=[
            Patch(color=GREY, label="headers (HTTP + frame)"),
            Patch(facecolor="white", edgecolor="black", label="payload (each transport's colour)"),
        ],
        frameon=False,
        loc="upper right",
    )
    ax_cpu.bar(labels, [r.cpu_per_second * 1000 for r in rs], color=colors)
    ax_cpu.set_title("Server CPU (ms per second)")
    for ax in (ax_delay, ax_req, ax_bytes, ax_cpu):
        ax.tick_params(axis="x", labelsize=10)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(
        f"{len(result.event_times)} events at {result.rate:g}/s (bursts of ~{result.burstiness:g}), "
        f"{result.clients} client(s) per transport, polling every {result.poll_interval:g} s",
    )
    if own:
        plt.show()
        return None
    return fig


@_styled
def classroom(runs, *, fig=None):
    """Cost against the number of clients N, one line per transport.

    ``runs`` is a list of ArenaResult objects at different N.
    """
    own = fig is None
    if own:
        fig = plt.figure(figsize=(13, 3.4), layout="constrained")
    ax_cpu, ax_req, ax_delay = fig.subplots(1, 3)
    runs = sorted(runs, key=lambda r: r.clients)
    names = []
    for run in runs:
        names += [n for n in run.results if n not in names]
    for name in names:
        pts = [(run.clients, run.results[name]) for run in runs if name in run.results]
        ns = [n for n, _ in pts]
        color = TRANSPORT_COLORS.get(name, "gray")
        ax_cpu.plot(ns, [r.cpu_per_second * 1000 for _, r in pts], "o-", color=color, label=name)
        ax_req.plot(ns, [r.requests_during / r.seconds for _, r in pts], "o-", color=color, label=name)
        ax_delay.plot(ns, [r.delay_ms(50) for _, r in pts], "o-", color=color, label=name)
    ax_cpu.set_title("Server CPU (ms per second)")
    ax_req.set_title("HTTP requests per second, during the run")
    ax_delay.set_title("Median delivery delay (ms)")
    measured_ns = sorted({run.clients for run in runs})
    for ax in (ax_cpu, ax_req, ax_delay):
        ax.set_xscale("log")
        ax.set_xticks(measured_ns, [str(n) for n in measured_ns])  # a label at every measured N
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("clients (N)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=10, frameon=False, loc="best")
    ax_delay.set_yscale("log")
    if own:
        plt.show()
        return None
    return fig


@_styled
def resume(published, clients, cuts, *, t0=None, ax=None):
    """Messages published vs received over time, per client, with the moments of each cut.

    Args:
        published: times at which messages 1, 2, 3, … were published.
        clients: name → list of (seq, data, time received), as ResilientClient.received.
        cuts: times at which the connection was cut.
    """
    ax, own = _axes(ax, (9, 3.2))
    t0 = min(published) if t0 is None and published else (t0 or 0.0)
    ax.step(
        [t - t0 for t in published],
        range(1, len(published) + 1),
        where="post",
        color="gray",
        lw=3,
        alpha=0.4,
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
            lw=1.5,
            label=f"{name}: {len(received)} received",
        )
    for k, t in enumerate(cuts):
        ax.axvline(t - t0, color=VERMILLION, lw=0.8, alpha=0.6, label="cut" if k == 0 else None)
    ax.set_xlabel("seconds")
    ax.set_ylabel("messages")
    ax.set_title("Messages published vs received, across cuts")
    ax.legend(fontsize=10, frameon=False, loc="upper left")
    ax.grid(alpha=0.3)
    if own:
        plt.show()
    return None if own else ax


@_styled
def keepalive(settings, measured, *, ax=None):
    """Measured time to notice a dead connection vs ping_interval + ping_timeout + close_timeout."""
    ax, own = _axes(ax, (7, 2.8))
    labels = [f"ping {p:g} s\ntimeout {t:g} s\nclose {c:g} s" for p, t, c in settings]
    expected = [p + t + c for p, t, c in settings]
    xs = range(len(settings))
    ax.bar([x - 0.2 for x in xs], expected, width=0.4, color=GREY, label="interval + timeout + close")
    ax.bar([x + 0.2 for x in xs], measured, width=0.4, color=BLUE, label="measured")
    ax.set_xticks(list(xs), labels, fontsize=10)
    ax.set_ylabel("seconds")
    ax.set_title("How long until a dead connection is noticed")
    ax.legend(fontsize=10, frameon=False)
    if own:
        plt.show()
    return None if own else ax
