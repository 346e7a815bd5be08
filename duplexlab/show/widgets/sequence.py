"""A live sequence diagram of a tap's traffic: every request, response, event and frame as an arrow.

The tap hands each chunk it carries to the diagram (on the lab's loop, an
append and nothing more). At most ``rate`` times a second the diagram decodes
what arrived (:class:`~duplexlab.wire.flow.FlowDecoder`) and sends the new
events to the browser as one message over the widget's comm, so it draws while
cells run, even when the browser cannot reach the lab's ports. It keeps the
last ``keep`` events; older ones are counted ("N earlier") and chunks it had
no room to decode are counted too ("N not drawn"): nothing is dropped silently.
The kept events are also the widget's synced ``history``, so a re-rendered
view draws at once without asking the kernel (which may be busy running
cells). The browser side is plain SVG in ``duplexlab/show/js/sequence.js``.

For a notebook run without a browser (nbclient, an exported notebook) the
output also carries a static SVG of the same diagram, refreshed when the
cell that showed it ends and after each later cell that added to it (so the
saved notebook shows the whole conversation; in a browser the view is then
drawn again from its state, with the same arrows).

Everyone can read it: the SVG (live and static) has a ``<title>`` and a
``<desc>`` with this run's counts (:func:`describe`), and the widget has a text
view with one line per row (:func:`text_lines`, the same line its hover details
start with), which a keyboard reaches and a screen reader reads. Text and lines
are 4.5:1 or more against the diagram's white paper, kept in a dark theme too;
kinds differ by label, line style and arrowhead, never by colour alone. Its text
follows :func:`~duplexlab.show.projector.sizes` when it is created
(``dl.projector()``: 16 px). ``pin="break"`` keeps the last break (a cut, a
silenced path, a dropped server side) and what follows it in view, and
``pings=False`` folds keepalive ``PING``/``PONG`` frames into a count, for a
lesson whose prose is about something else.
"""

from __future__ import annotations

import asyncio
import collections
import html
import itertools
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ...lab import Lab
from ...tap import Tap
from ...wire.capture import Chunk
from ...wire.flow import ARROW_KINDS, FlowDecoder, Note
from ..projector import sizes

__all__ = [
    "Geometry",
    "Sequence",
    "SequenceView",
    "describe",
    "drawn_label",
    "gap_px",
    "geometry",
    "lane_name",
    "layout",
    "runs",
    "slot_name",
    "static_svg",
    "text_lines",
    "unanswered",
    "when",
]

JS = Path(__file__).parent.parent / "js"
_ESM = (JS / "sequence.js").read_text(encoding="utf-8")

MAX_INBOX = 50_000  # chunks waiting to be decoded; beyond, they are counted, not drawn
STATE_EVERY = 1.0  # seconds between syncs of the whole history

# the same geometry as sequence.js, at 12 px text; a larger text scales it all (see geometry())
ROW, TOP, LEFT, TIME_X, LANE, TAP_GAP, SERVER_GAP, RIGHT = 26, 50, 116, 70, 96, 70, 340, 40
FONT = 12
MAX_LABEL = 48  # characters of an arrow's label drawn (the whole label is in its tooltip)
# Okabe & Ito's hues, darkened to 4.5:1 or more on the diagram's white (as in show/plots.py)
COLORS = {"up": "#0072B2", "down": "#BE5400", "sse": "#008460", "mark": "#555555", "cut": "#B00020", "lost": "#B00020"}
MUTED = "#5C5C5C"  # times, gaps, the legend: 6.7:1 on white
LIFELINE = "#767676"  # 4.5:1 on white
HELD_TEXT = "#8A5A00"
LEGEND = "· N B = bytes on the wire · a frame's own length is its payload · hover or click an arrow for its bytes"
BREAKS = ("cut", "silence", "drop")  # what pin="break" keeps in view
CONTROL = ("PING", "PONG")  # keepalive frames, folded with pings=False

Event = dict[str, Any]


class SequenceView(anywidget.AnyWidget):
    """The browser side: draws ``history`` plus the batches sent as custom messages."""

    _esm = _ESM
    history: traitlets.List = traitlets.List().tag(sync=True)
    earlier = traitlets.Int(0).tag(sync=True)
    skipped = traitlets.Int(0).tag(sync=True)
    keep = traitlets.Int(500).tag(sync=True)
    height = traitlets.Int(440).tag(sync=True)  # of the scrolling box, in pixels
    note = traitlets.Unicode("").tag(sync=True)  # why it stopped following, once it has
    title = traitlets.Unicode("").tag(sync=True)  # what it follows: the SVG's <title>
    font = traitlets.Int(13).tag(sync=True)  # text size in px (sizes().widget_text_px when created)
    pin = traitlets.Unicode("").tag(sync=True)  # "break": keep the last break in view; "": the newest rows
    pings = traitlets.Bool(True).tag(sync=True)  # False: PING/PONG frames folded into a count at first


def _round(x: float) -> int:
    """Round half up, as JavaScript's Math.round (Python's round() goes to even)."""
    return math.floor(x + 0.5)


@dataclass(frozen=True)
class Geometry:
    """Where things go, in px, for a text size: the constants above, scaled by ``font / 12``."""

    font: int
    row: int
    top: int
    left: int
    time_x: int
    lane: int
    tap_gap: int
    server_gap: int
    right: int

    @property
    def k(self) -> float:
        return self.font / FONT


def geometry(font: int = FONT) -> Geometry:
    """The diagram's geometry for ``font`` px text (the same numbers as sequence.js's ``geometry``)."""
    k = font / FONT
    return Geometry(font, *(_round(v * k) for v in (ROW, TOP, LEFT, TIME_X, LANE, TAP_GAP, SERVER_GAP, RIGHT)))


def when(t: float) -> str:
    """A moment on the diagram's clock, always in seconds: ``1.878 s``."""
    return f"{t:.3f} s"


def gap_px(dt: float, k: float = 1.0) -> float:
    """Extra room between two rows ``dt`` seconds apart: waiting shows, but a long wait stays short."""
    return float(min(_round(90 * k), _round(45 * k * dt**0.5))) if dt >= 0.05 else 0.0


def lane_name(lane: str) -> str:
    """``"3"`` → ``conn 3``; ``"2.3"`` (several taps) → ``tap 2 · conn 3``."""
    tap, dot, conn = lane.partition(".")
    return f"tap {tap} · conn {conn}" if dot else f"conn {lane}"


def runs(numbers: list[int]) -> str:
    """``[1, 2, 3, 4, 6]`` → ``"1–4, 6"``: consecutive numbers as a range."""
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        parts.append(f"{numbers[i]}–{numbers[j]}" if j - i >= 2 else ", ".join(map(str, numbers[i : j + 1])))
        i = j + 1
    return ", ".join(parts)


def slot_name(lanes: list[str]) -> str:
    """The name over a column: ``conn 3``, or ``conn 1, 2, 3`` when connections took turns in it."""
    if len(lanes) == 1:
        return lane_name(lanes[0])
    tap = lanes[0].partition(".")[0]
    numbers = runs([int(lane.rpartition(".")[2]) for lane in lanes])
    name = (f"tap {tap} · " if "." in lanes[0] else "") + "conn " + numbers
    return name if len(name) <= 16 else name[:15] + "…"


def _sizes(e: Event) -> str:
    if e["kind"] == "frame":
        return f"{e['bytes']} bytes on the wire: {e['head']} frame header + {e['body']} payload"
    if e["kind"] == "sse":
        return f"{e['bytes']} bytes of the response's body"
    if e["kind"] in ("request", "response"):
        return f"{e['bytes']} bytes on the wire: {e['head']} header + {e['body']} body" + (
            "" if e["done"] else " so far"
        )
    return f"{e['bytes']} bytes" if e.get("bytes") else ""


def drawn_label(e: Event) -> str:
    """The text beside an arrow: its label, its size on the wire, a glance at a small body."""
    kind = e["kind"]
    label = e["label"]
    if kind == "response" and e.get("stream"):
        label += f" · {e['head']} B, then a stream"
    elif kind in ("request", "response", "frame"):
        label += f" · {e['bytes']} B"
    if e.get("hint"):
        label += f" · {e['hint']}"
    if not e["done"] and kind in ("request", "response"):
        label += " …"
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def layout(shown: list[Event], earlier: int, geo: Geometry | None = None) -> dict[str, Any]:
    """Where everything goes (the same rules as sequence.js): rows spaced by time, lanes, lifelines."""
    g = geo or geometry()
    lanes = list(dict.fromkeys(e["lane"] for e in shown))
    y: float = g.top + g.row * (2 if earlier else 1)
    gaps: list[tuple[float, float]] = []
    prev: Event | None = None
    row_y: dict[int, float] = {}
    for e in shown:
        if prev is not None:
            extra = gap_px(e["t"] - prev["t"], g.k)
            if extra:
                gaps.append((y + extra / 2 + g.row / 2 - 4, e["t"] - prev["t"]))
            y += g.row + extra
        row_y[e["id"]] = y
        prev = e
    bottom = y + g.row
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    closed: dict[str, set[str]] = {}
    for e in shown:
        first.setdefault(e["lane"], row_y[e["id"]])
        last[e["lane"]] = row_y[e["id"]]
        if e["kind"] == "end":
            closed.setdefault(e["lane"], set()).add(e["dir"])
        elif e["kind"] == "cut":
            closed.setdefault(e["lane"], set()).update(("up", "down"))
        elif e["kind"] == "drop":  # the server's side is gone
            closed.setdefault(e["lane"], set()).add("down")
    ends = {lane: last[lane] if len(closed.get(lane, ())) == 2 else bottom for lane in lanes}
    # columns: a connection that has ended gives its column to the next one that starts after it
    free_after: list[float] = []
    slot_lanes: list[list[str]] = []
    x_lane: dict[str, float] = {}
    for lane in lanes:
        slot = next((i for i, end in enumerate(free_after) if end < first[lane]), None)
        if slot is None:
            slot = len(free_after)
            free_after.append(0.0)
            slot_lanes.append([])
        free_after[slot] = ends[lane] if ends[lane] < bottom else float("inf")
        slot_lanes[slot].append(lane)
        x_lane[lane] = g.left + g.lane * (slot + 0.5)
    shared = {lane for group in slot_lanes if len(group) > 1 for lane in group}
    x_tap = g.left + g.lane * max(1, len(slot_lanes)) + g.tap_gap
    x_server = x_tap + g.server_gap
    return {
        "lanes": lanes,
        "slots": [(g.left + g.lane * (i + 0.5), slot_name(group)) for i, group in enumerate(slot_lanes)],
        "shared": shared,
        "x_lane": x_lane,
        "x_tap": x_tap,
        "x_server": x_server,
        "row_y": row_y,
        "gaps": gaps,
        "height": bottom,
        "width": x_server + g.right,
        "first": first,
        "ends": ends,
    }


def _plural(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def is_control(e: Event) -> bool:
    """A keepalive frame: ``PING`` or ``PONG``."""
    return e["kind"] == "frame" and e.get("opcode") in CONTROL


ARROW_WORDS = [  # (what is counted, singular, plural), in the order a description names them
    (lambda e: e["kind"] == "request", "request", "requests"),
    (lambda e: e["kind"] == "response", "response", "responses"),
    (lambda e: e["kind"] == "sse", "server-sent event", "server-sent events"),
    (lambda e: e["kind"] == "frame" and not is_control(e), "frame", "frames"),
    (is_control, "ping/pong frame", "ping/pong frames"),
    (lambda e: e["kind"] == "data", "chunk of other bytes", "chunks of other bytes"),
    (lambda e: e["kind"] == "swallowed", "write swallowed by a dead path", "writes swallowed by a dead path"),
]
MARK_WORDS = [
    ("cut", "cut", "cuts"),
    ("silence", "silenced path", "silenced paths"),
    ("drop", "server side dropped", "server sides dropped"),
    ("end", "side closed", "sides closed"),
    ("lost", "connection not drawn to its end", "connections not drawn to their end"),
]


def describe(events: list[Event], *, earlier: int = 0, skipped: int = 0, pings: bool = True) -> str:
    """What the diagram shows, with this run's counts: the SVG's ``<desc>`` (sequence.js says the same).

    ``"2 connections; 14 arrows: 6 requests, 6 responses, 2 frames; 1 cut, 2 sides closed;
    0.000 s to 4.120 s"``. ``pings=False`` says the ping/pong frames are folded.
    """
    if not events:
        text = "nothing has crossed the tap yet"
    else:
        lanes = len(dict.fromkeys(e["lane"] for e in events))
        arrows = [e for e in events if e["kind"] in ARROW_KINDS]
        kinds: list[str] = []
        for test, one, many in ARROW_WORDS:
            n = sum(1 for e in arrows if test(e))
            if n:
                kinds.append(_plural(n, one, many) + (" (folded)" if one == "ping/pong frame" and not pings else ""))
        marks = [
            _plural(n, one, many) for kind, one, many in MARK_WORDS if (n := sum(e["kind"] == kind for e in events))
        ]
        text = f"{_plural(lanes, 'connection')}; " + (
            f"{_plural(len(arrows), 'arrow')}: {', '.join(kinds)}" if arrows else "no arrows"
        )
        text += f"; {', '.join(marks)}" if marks else ""
        times = [e["t"] for e in events]
        text += f"; {when(min(times))} to {when(max(times))}"
    if earlier:
        text += f"; {earlier} earlier events not kept"
    if skipped:
        text += f"; {skipped} chunks not drawn (too fast)"
    return text


def text_lines(shown: list[Event]) -> dict[int, str]:
    """One line per row, by event id, in time order: when, who to whom, the whole label, its sizes, how
    long it was held. The text view lists them; an arrow's hover details start with its line."""
    by_id = {e["id"]: e for e in shown}
    closed: dict[str, set[str]] = {}
    for e in shown:
        if e["kind"] == "end":
            closed.setdefault(e["lane"], set()).add(e["dir"])
        elif e["kind"] == "cut":
            closed.setdefault(e["lane"], set()).update(("up", "down"))
        elif e["kind"] == "drop":
            closed.setdefault(e["lane"], set()).add("down")
    ended = {lane for lane, sides in closed.items() if len(sides) == 2}
    waiting = {e["id"] for e in unanswered(shown)}
    lines: dict[int, str] = {}
    for e in shown:
        parts = [when(e["t"])]
        if e["kind"] in ARROW_KINDS:
            who = lane_name(e["lane"])
            parts.append(f"{who} → server" if e["dir"] == "up" else f"server → {who}")
            parts.append(e["label"])
            if sizes_ := _sizes(e):
                parts.append(sizes_)
            req = by_id.get(e.get("req", -1)) if e["kind"] == "response" else None
            if req is not None and e["t"] - req["t"] >= 0.1:
                parts.append(f"held {e['t'] - req['t']:.2f} s")
            if e["id"] in waiting:
                parts.append("no answer (the connection ended)" if e["lane"] in ended else "no answer yet")
        else:
            parts.append(e["label"])
        lines[e["id"]] = " · ".join(parts)
    return lines


def unanswered(shown: list[Event]) -> list[Event]:
    """Requests sent whole with no response among ``shown``: held by the server, or never answered."""
    answered = {e.get("req") for e in shown if e["kind"] == "response"}
    return [e for e in shown if e["kind"] == "request" and e["done"] and not e.get("lost") and e["id"] not in answered]


_svg_ids = itertools.count(1)  # ids for <title>/<desc>, unique among the SVGs of one exported page


def static_svg(
    events: list[Event],
    *,
    earlier: int = 0,
    skipped: int = 0,
    title: str = "",
    now: float | None = None,
    font: int = FONT,
    pings: bool = True,
) -> str:
    """The diagram of ``events`` as a standalone SVG document (what the browser draws, without controls).

    The SVG is an image with a ``<title>`` (``title``) and a ``<desc>`` (:func:`describe`: this run's
    counts), as the live one. Each arrow has a ``<title>`` with its text line (:func:`text_lines`; a
    tooltip in a browser). ``now`` (on the diagram's clock) says how long a request still waiting for
    its answer has been held. ``font`` is the text size in px (the geometry scales with it);
    ``pings=False`` leaves ``PING``/``PONG`` frames out and says how many. Used for headless runs,
    exported notebooks and slides.
    """
    every = sorted(events, key=lambda e: (e["t"], e["id"]))
    shown = every if pings else [e for e in every if not is_control(e)]
    folded = len(every) - len(shown)
    geo = geometry(font)
    k = geo.k
    g = layout(shown, earlier, geo)
    x_lane, x_tap, x_server, row_y = g["x_lane"], g["x_tap"], g["x_server"], g["row_y"]
    top, row = geo.top, geo.row
    by_id = {e["id"]: e for e in shown}
    lines = text_lines(shown)
    line_h = _round(font * 1.4)
    head = line_h * ((1 if title else 0) + 1 + (1 if folded else 0)) + 4
    height, width = g["height"] + head, g["width"]
    esc = html.escape
    n = next(_svg_ids)
    name = f"Sequence diagram of {title}" if title else "Sequence diagram"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" class="duplexlab-seq-svg" font-family="sans-serif" font-size="{font}" '
        f'role="img" aria-labelledby="dl-seq-{n}-title" aria-describedby="dl-seq-{n}-desc">',
        f'<title id="dl-seq-{n}-title">{esc(name)}</title>',
        f'<desc id="dl-seq-{n}-desc">{esc(describe(every, earlier=earlier, skipped=skipped, pings=pings))}</desc>',
        f'<rect x="0" y="0" width="{width:g}" height="{height:g}" fill="white"/>',
        "<defs>",
    ]
    for kind, color in COLORS.items():
        out.append(
            f'<marker id="dl-head-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{color}"/></marker>'
        )
    out.append("</defs>")
    y = line_h - 4
    if title:
        out.append(f'<text x="8" y="{y}" font-weight="bold">{esc(title)}</text>')
        y += line_h
    out.append(f'<text class="legend" x="8" y="{y}" fill="{MUTED}">{esc(LEGEND)}</text>')
    if folded:
        y += line_h
        out.append(
            f'<text class="folded" x="8" y="{y}" fill="{MUTED}" font-weight="bold">ping/pong folded: {folded}</text>'
        )
    out.append(f'<g transform="translate(0 {head})">')
    lifelines = [
        (x_lane[lane], "client", g["first"][lane] - 6 if g["first"][lane] > top + 2 * row else top - 8, g["ends"][lane])
        for lane in g["lanes"]
    ]
    lifelines += [(x_tap, "tap", top - 8, g["height"]), (x_server, "server", top - 8, g["height"])]
    for x, kind, y1, y2 in lifelines:  # a connection's line starts with it
        dash = "2 3" if kind == "tap" else "none"
        out.append(
            f'<line class="lifeline" x1="{x:g}" y1="{y1:g}" x2="{x:g}" y2="{y2:g}" '
            f'stroke="{LIFELINE}" stroke-dasharray="{dash}"/>'
        )
    for x, slot in [*g["slots"], (x_tap, "tap"), (x_server, "server")]:
        out.append(
            f'<text class="lifeline-name" x="{x:g}" y="{top - 14 * k:g}" text-anchor="middle" '
            f'font-weight="bold">{esc(slot)}</text>'
        )
    for lane in g["lanes"]:
        if lane in g["shared"]:  # where a connection starts in a shared column, its name
            out.append(
                f'<text class="lane-start" x="{x_lane[lane] + 4:g}" y="{g["first"][lane] - 9 * k:g}" '
                f'fill="{MUTED}">{esc(lane_name(lane))}</text>'
            )
    if earlier:
        out.append(
            f'<text class="earlier" x="{geo.left}" y="{top + row - 4:g}" fill="{MUTED}">'
            f"… {earlier} earlier events not kept</text>"
        )
    for y, dt in g["gaps"]:
        out.append(f'<text class="gap" x="{geo.time_x}" y="{y:g}" text-anchor="end" fill="{MUTED}">⋮ {dt:.2f} s</text>')
    for e in unanswered(shown):
        x, y1, ended = x_lane[e["lane"]], row_y[e["id"]], g["ends"][e["lane"]] < g["height"]
        if now is not None and now - e["t"] < 0.1 and not ended:
            continue  # just sent: its answer is on the way
        y2 = g["ends"][e["lane"]] if ended else g["height"]
        label = (
            "no answer (the connection ended)"
            if ended
            else f"held {now - e['t']:.2f} s so far"
            if now is not None
            else "held, no answer yet"
        )
        out.append(
            f'<rect class="span held open" x="{x - 4:g}" y="{y1:g}" width="8" '
            f'height="{max(2, y2 - y1):g}" fill="#f0c27b" fill-opacity="0.6"/>'
        )
        out.append(
            f'<text class="span-label" x="{x - 8:g}" y="{y1 + 16 * k:g}" text-anchor="end" '
            f'fill="{HELD_TEXT}">{label}</text>'
        )
    for e in shown:
        if e["kind"] != "response":
            continue
        x = x_lane[e["lane"]]
        req = by_id.get(e.get("req", -1))
        if req is not None and e["t"] - req["t"] >= 0.1:
            y1, y2 = row_y[req["id"]], row_y[e["id"]]
            out.append(
                f'<rect class="span held" x="{x - 4:g}" y="{y1:g}" width="8" height="{y2 - y1:g}" fill="#f0c27b"/>'
            )
            out.append(
                f'<text class="span-label" x="{x - 8:g}" y="{(y1 + y2) / 2 + 4:g}" text-anchor="end" '
                f'fill="{HELD_TEXT}">held {e["t"] - req["t"]:.2f} s</text>'
            )
        if e.get("stream"):
            inner = [s for s in shown if s.get("in") == e["id"]]
            y1 = row_y[e["id"]]
            last = row_y[inner[-1]["id"]] if inner else y1
            y2 = last if e["done"] else g["height"]
            out.append(
                f'<rect class="span stream" x="{x - 3:g}" y="{y1:g}" width="6" '
                f'height="{max(2, y2 - y1):g}" fill="#9fd8c3"/>'
            )
    for e in shown:
        yy = row_y[e["id"]]
        xc = x_lane[e["lane"]]
        out.append(
            f'<text class="time" x="{geo.time_x}" y="{yy + 4 * k:g}" text-anchor="end" fill="{MUTED}">'
            f"{when(e['t'])}</text>"
        )
        arrow = e["kind"] in ARROW_KINDS
        out.append(
            f'<g class="{"arrow" if arrow else "mark"} kind-{e["kind"]} dir-{e["dir"] or "none"}" '
            f'data-id="{e["id"]}" data-label="{esc(e["label"])}" data-bytes="{e["bytes"]}">'
            f"<title>{esc(lines[e['id']])}</title>"
        )
        if arrow:
            kind = e["kind"]
            color = COLORS["sse"] if kind == "sse" else COLORS["lost"] if kind == "swallowed" else COLORS[e["dir"]]
            x1, x2 = (xc, x_server) if e["dir"] == "up" else (x_server, xc)
            end = x_tap if kind == "swallowed" else x2
            dash = "5 3" if kind == "sse" else "none" if e["done"] else "2 2"
            head_ = "none" if kind == "swallowed" else f"url(#dl-head-{'sse' if kind == 'sse' else e['dir']})"
            out.append(
                f'<line x1="{x1:g}" y1="{yy:g}" x2="{end:g}" y2="{yy:g}" stroke="{color}" stroke-width="1.6" '
                f'stroke-dasharray="{dash}" marker-end="{head_}"/>'
            )
            if kind == "swallowed":
                out.append(
                    f'<text x="{x_tap:g}" y="{yy + 4 * k:g}" text-anchor="middle" fill="{color}" '
                    f'font-size="{font + 2}">✕</text>'
                )
            else:
                out.append(f'<circle cx="{x_tap:g}" cy="{yy:g}" r="2.5" fill="{LIFELINE}"/>')
            out.append(
                f'<text class="label" x="{x_tap + 10 * k:g}" y="{yy - 5 * k:g}" fill="{color}">'
                f"{esc(drawn_label(e))}</text>"
            )
        else:
            color = COLORS["mark"] if e["kind"] == "end" else COLORS["cut"]
            x = (xc if e["dir"] == "up" else x_server) if e["kind"] == "end" else x_tap
            zigzag = f"M {x - 8:g} {yy - 6:g} l 4 12 l 4 -12 l 4 12 l 4 -12"
            path = f"M {x - 6:g} {yy:g} h 12" if e["kind"] == "end" else zigzag
            out.append(f'<path d="{path}" stroke="{color}" fill="none" stroke-width="2"/>')
            if e["kind"] != "end":
                out.append(
                    f'<text x="{xc:g}" y="{yy + 5 * k:g}" text-anchor="middle" fill="{color}" '
                    f'font-size="{font + 2}">✕</text>'
                )
            out.append(
                f'<text class="label" x="{x_tap + 16 * k:g}" y="{yy + 4 * k:g}" fill="{color}">{esc(e["label"])}</text>'
            )
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


class _Watching:
    """One tap followed by a diagram: its decoder, and the function that stops the watching."""

    def __init__(self, tap: Tap, decoder: FlowDecoder, callback) -> None:
        self.tap = tap
        self.decoder = decoder
        self.unwatch = tap.watch(callback)


LOGGER = logging.getLogger(__name__)

# each source (a tap or a lab) → its live diagram; keyed by the object itself, so a new one never inherits it
_live: weakref.WeakKeyDictionary[Tap | Lab, weakref.ref[Sequence]] = weakref.WeakKeyDictionary()


class Sequence:
    """A live sequence diagram of a tap's traffic, or of all of a lab's taps.

    Show it as a cell's value. Its lifelines are each connection (a client),
    the tap and the server; each HTTP request, HTTP response, server-sent
    event and WebSocket frame is an arrow, labelled (method and path; status;
    opcode, length, masked) and, on hover or click, shown byte for byte
    (headers vs body, frame header vs payload). A request the server holds is
    drawn as a span; an event stream's events as arrows inside its response;
    a cut, a silenced path or a dropped server side as a red break.

    One live diagram per tap (or lab): showing another one retires the old one,
    which keeps its last picture. ``dl.stop()`` stops it too.

    Args:
        source: a :class:`~duplexlab.tap.Tap` started by the lab, or the :class:`~duplexlab.lab.Lab`
            itself (its taps, now and later).
        keep: events kept (and drawn); older ones are counted as "earlier".
        rate: at most this many updates a second go to the browser.
        history: start with what the taps recorded before (``tap.clear()`` forgets it);
            False draws only what crosses from now on.
        height: of the diagram's scrolling box, in pixels (it follows the newest rows).
        pin: ``"break"`` keeps the last break (a cut, a silenced path, a dropped server side) and
            what follows it in view, rather than the newest rows; the reader can change it.
        pings: False folds keepalive ``PING``/``PONG`` frames into a count ("ping/pong folded: 12");
            its tick shows them.

    Its text is :func:`~duplexlab.show.projector.sizes`' ``widget_text_px`` when it is created
    (16 px with ``dl.projector()`` on).

    Example::

        tap = lab.tap(lab.url)
        seq = tap.show()        # or dl.show.Sequence(tap)
        seq                     # the diagram, drawn live from here on
    """

    def __init__(
        self,
        source: Tap | Lab,
        *,
        keep: int = 500,
        rate: float = 30.0,
        title: str = "",
        history: bool = True,
        height: int = 440,
        pin: str | None = None,
        pings: bool = True,
    ) -> None:
        if keep < 1 or rate <= 0:
            raise ValueError(f"keep ≥ 1 and rate > 0, not keep={keep}, rate={rate}")
        if pin not in (None, "", "break"):
            raise ValueError(f'pin="break" keeps the last break in view (or leave it out), not pin={pin!r}')
        if isinstance(source, Tap):
            lab, loop, taps = source.lab, source.loop, [source]
        elif isinstance(source, Lab):
            lab, loop, taps = source, source.loop, source.taps
        else:
            raise TypeError(f"a Sequence follows a Tap or a Lab, not {type(source).__name__}")
        if loop is None or not loop.running:
            raise ValueError("show a tap that the lab started (tap = lab.tap(url)) while the lab is running")
        self.source = source
        self.keep = keep
        self.interval = 1 / rate
        self.title = title or (f"{source.url} → {source.target}" if isinstance(source, Tap) else "the lab's taps")
        self._loop = loop
        recorded = [c.t for tap in taps for c in tap.capture().chunks[:1]] if history else []
        self._t0: float | None = min(recorded, default=None)  # else: the first chunk it sees (as a transcript)
        self._history = history
        self._ids = itertools.count(1)
        self._watching: list[_Watching] = []
        self._inbox: list[tuple[FlowDecoder, Chunk | Note]] = []
        self._lost: dict[FlowDecoder, dict[int, float]] = {}  # connections with chunks not decoded → when
        self._events: collections.OrderedDict[int, Event] = collections.OrderedDict()
        self._pending: dict[int, Event] = {}
        self._trimmed_below = 0  # ids below this were let go
        self.earlier = 0
        self.skipped = 0
        self.updates = 0  # messages sent to the browser
        self._flush_handle: asyncio.TimerHandle | None = None
        self._state_handle: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        self._last_state = 0.0
        self._closed = False
        self._display: Any = None
        self._version = 0  # changes to the kept events, counted
        self._rendered = -1  # the version the static copy in the output shows
        self._refreshing = False
        self.font = sizes().widget_text_px
        self.pings = pings
        self.view = SequenceView(keep=keep, height=height, title=self.title, font=self.font, pin=pin or "", pings=pings)
        live = _live.get(source)
        old = live() if live is not None else None
        if old is not None:
            old.close("a newer diagram of this tap took over")
        _live[source] = weakref.ref(self)
        for n, tap in enumerate(taps, 1):
            self._follow(tap, prefix="" if isinstance(source, Tap) else f"{n}.")
        self._stop_following_lab: Callable[[], None] | None = None
        if isinstance(source, Lab):
            ref = weakref.ref(self)

            def tap_added(tap: Tap) -> None:  # the lab started another tap: follow it too
                me = ref()
                if me is not None:
                    me._follow(tap, prefix=f"{len(me._watching) + 1}.")

            self._stop_following_lab = source.on_tap(tap_added)
        if lab is not None:
            lab.owned.own(self, weak=True)

    # -- following taps (callbacks on the lab's loop) ----------------------------------

    def _follow(self, tap: Tap, *, prefix: str = "") -> None:
        decoder = FlowDecoder(t0=self._t0 or 0.0, lane_prefix=prefix, ids=self._ids)
        ref = weakref.ref(self)

        def arrived(item: Chunk | Note) -> None:
            me = ref()
            if me is not None:
                me._arrived(decoder, item)

        def begin() -> None:  # on the loop: what was recorded, then what comes, nothing in between
            recorded = tap.capture().chunks if self._history else ()
            if len(recorded) > MAX_INBOX:
                self.skipped += len(recorded)  # too much to draw at once: said, not hidden
                ended = collections.Counter(c.conn for c in recorded if not c.data)
                for c in recorded:
                    if ended[c.conn] < 2:  # still open: its later bytes can't be read without these
                        self._lost.setdefault(decoder, {}).setdefault(c.conn, c.t)
            elif recorded:
                self._inbox.extend((decoder, chunk) for chunk in recorded)
                self._schedule_flush()
            self._watching.append(_Watching(tap, decoder, arrived))

        self._loop.call(begin, timeout=10)

    def _arrived(self, decoder: FlowDecoder, item: Chunk | Note) -> None:
        if len(self._inbox) >= MAX_INBOX:
            self.skipped += 1
            self._lost.setdefault(decoder, {}).setdefault(item.conn, item.t)  # that connection can't be read on
        else:
            self._inbox.append((decoder, item))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and not self._closed:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_flush + self.interval - time.perf_counter())
            self._flush_handle = loop.call_later(delay, self._flush)

    def _decode(self) -> None:
        """Decode what arrived and keep the last ``keep`` events (any thread, while the loop is not feeding)."""
        inbox, self._inbox = self._inbox, []
        if self._t0 is None and inbox:  # the clock starts with the first thing drawn
            self._t0 = inbox[0][1].t
            for watching in self._watching:
                watching.decoder.t0 = self._t0
        lost, self._lost = self._lost, {}
        fed = [decoder.feed(item) for decoder, item in inbox]
        fed += [decoder.lose(t, conn) for decoder, conns in lost.items() for conn, t in conns.items()]
        for events in fed:
            for event in events:
                i = event["id"]
                if i < self._trimmed_below:
                    continue  # an update to an event already let go
                self._events[i] = event
                self._pending[i] = event
                self._version += 1
        while len(self._events) > self.keep:
            i, _ = self._events.popitem(last=False)
            self._pending.pop(i, None)
            self._trimmed_below = max(self._trimmed_below, i + 1)
            self.earlier += 1

    def _flush(self) -> None:
        """Send what changed to the browser in one message (on the loop, at most ``rate`` times a second)."""
        self._flush_handle = None
        self._last_flush = time.perf_counter()
        self._decode()
        if self._pending:
            batch = [dict(e) for e in self._pending.values()]
            self._pending.clear()
            self.view.send({"type": "events", "events": batch, "earlier": self.earlier, "skipped": self.skipped})
            self.updates += 1
        if self._state_handle is None:
            delay = max(0.0, self._last_state + STATE_EVERY - time.perf_counter())
            self._state_handle = asyncio.get_running_loop().call_later(delay, self._sync_state)

    def _sync_state(self) -> None:
        self._state_handle = None
        self._last_state = time.perf_counter()
        with self.view.hold_sync():
            self.view.history = [dict(e) for e in self._events.values()]
            self.view.earlier, self.view.skipped = self.earlier, self.skipped

    def sync(self) -> None:
        """Decode everything the taps carried so far and bring the widget's state up to date (any thread)."""
        if self._loop.running:
            self._loop.call(self._refresh, timeout=10)
        else:  # the lab stopped: nothing feeds the diagram any more
            self._refresh()

    def _refresh(self) -> None:
        self._decode()
        self._sync_state()

    # -- what it shows ---------------------------------------------------------------

    def events(self) -> list[Event]:
        """The kept events, in time order (copies)."""
        self.sync()
        return [dict(e) for e in sorted(self._events.values(), key=lambda e: (e["t"], e["id"]))]

    def arrows(self) -> list[str]:
        """The labels of the arrows, top to bottom (requests, responses, events, frames)."""
        return [e["label"] for e in self.events() if e["kind"] in ARROW_KINDS]

    def svg(self) -> str:
        """The diagram as a standalone SVG document."""
        events = self.events()
        now = None if self._closed or self._t0 is None else time.perf_counter() - self._t0
        return static_svg(
            events,
            earlier=self.earlier,
            skipped=self.skipped,
            title=self.title,
            now=now,
            font=self.font,
            pings=self.pings,
        )

    def describe(self) -> str:
        """What it shows, with this run's counts (the SVG's ``<desc>``)."""
        return describe(self.events(), earlier=self.earlier, skipped=self.skipped, pings=self.pings)

    def text(self) -> str:
        """The text view: one line per row, top to bottom (what a screen reader reads)."""
        return "\n".join(text_lines(self.events()).values())

    def save_svg(self, path: str | Path) -> Path:
        """Write the diagram to an SVG file (for slides); returns its path."""
        target = Path(path)
        target.write_text(self.svg(), encoding="utf-8")
        return target

    def summary(self) -> str:
        kinds = collections.Counter(e["kind"] for e in self._events.values())
        parts = [f"{kinds[k]} {k}(s)" for k in ("request", "response", "sse", "frame") if kinds[k]]
        extra = f"; {self.earlier} earlier not kept" if self.earlier else ""
        extra += f"; {self.skipped} chunks not drawn (too fast)" if self.skipped else ""
        return f"sequence diagram of {self.title}: " + (", ".join(parts) or "nothing yet") + extra

    def _bundle(self) -> dict[str, Any]:
        bundle = self.view._repr_mimebundle_() or ({}, {})  # anywidget: (data, metadata)
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["image/svg+xml"] = self.svg()
        data["text/plain"] = self.summary()
        return data

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        self._display = display(self._bundle(), raw=True, display_id=True)
        self._rendered = self._version
        shell = get_ipython()
        if shell is None or self._refreshing:
            return
        self._refreshing = True

        def cell_ended(result=None) -> None:
            """After each cell: if the diagram changed, refresh the static copy in its output."""
            if self._display is None:
                return
            if not self._closed:
                self.sync()
            if self._version != self._rendered:
                self._rendered = self._version
                self._display.update(self._bundle(), raw=True)
            if self._closed and self._version == self._rendered:
                shell.events.unregister("post_run_cell", cell_ended)
                self._refreshing = False

        shell.events.register("post_run_cell", cell_ended)

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    # -- the end -----------------------------------------------------------------------

    def close(self, reason: str = "") -> None:
        """Stop following the taps; the view keeps its last picture. Twice is harmless."""
        if self._closed:
            return
        for watching in self._watching:
            watching.unwatch()
        if self._stop_following_lab is not None:
            self._stop_following_lab()
        self._closed = True
        self.reason = reason or "stopped"

        def finish() -> None:
            for handle in (self._flush_handle, self._state_handle):
                if handle is not None:
                    handle.cancel()
            self._flush_handle = self._state_handle = None
            try:
                self._refresh()
                self.view.note = f"no longer live: {self.reason}"
            except Exception:  # the widget's comm is gone (the kernel is shutting down)
                LOGGER.debug("the diagram %r could not show its last picture", self.title, exc_info=True)

        try:
            self._loop.call_soon(finish)  # nobody waits for it
        except RuntimeError:  # LabNotRunningError: the lab stopped, nothing feeds the diagram any more
            finish()
