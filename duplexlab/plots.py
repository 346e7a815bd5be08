"""Plots for the lessons, on matplotlib (the notebook's inline backend shows them).

Each function draws on ``ax`` when given one (tests and dashboards do that) and
otherwise makes a figure of its own and shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt

from .capture import Counts

__all__ = ["bytes_split", "timeline"]

SERVER_COLOR = "tab:orange"
CLIENT_COLOR = "tab:blue"


def _axes(ax, size):
    if ax is not None:
        return ax, False
    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax, True


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
    for s, d in requests:
        ax.axvline(s - t0, color=CLIENT_COLOR, alpha=0.25, lw=1)
        ax.plot([s - t0, d - t0], [0, 0], color=CLIENT_COLOR, lw=6, solid_capstyle="butt")
    ax.scatter([t - t0 for t in created.values()], [1] * len(created), s=80,
               color=SERVER_COLOR, zorder=3, label="server creates a notification")
    ax.scatter([s - t0 for s, _ in requests], [0] * len(requests), s=250, marker="|", linewidths=2,
               color=CLIENT_COLOR, label="client sends a request")
    for event_id, t_seen in learned.items():
        t_made = created[event_id]
        ax.annotate("", xy=(t_seen - t0, 0.08), xytext=(t_made - t0, 0.92),
                    arrowprops={"arrowstyle": "->", "color": "gray"})
        ax.text((t_made + t_seen) / 2 - t0, 0.5, f"{(t_seen - t_made) * 1000:.0f} ms",
                ha="center", fontsize=8, color="dimgray")
    ax.set_yticks([0, 1], ["client", "server"])
    ax.set_ylim(-0.5, 1.6)
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, ncols=2, frameon=False)
    if own:
        plt.show()
    return None if own else ax


def bytes_split(counts: Counts, *, title: str = "Bytes on the wire", ax=None):
    """Header bytes vs body bytes, each way, as stacked bars."""
    ax, own = _axes(ax, (7, 2.2))
    rows = ["client → server", "server → client"]
    headers = [counts.header_bytes_up, counts.header_bytes_down]
    bodies = [counts.body_bytes_up, counts.body_bytes_down]
    ax.barh(rows, headers, color="tab:gray", label="headers")
    ax.barh(rows, bodies, left=headers, color="tab:green", label="body")
    for i, (h, b) in enumerate(zip(headers, bodies)):
        ax.text(h + b, i, f"  {h + b} B ({h} header)", va="center", fontsize=8)
    ax.set_xlabel("bytes")
    ax.set_xlim(0, max(h + b for h, b in zip(headers, bodies)) * 1.45 + 1)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if own:
        plt.show()
    return None if own else ax
