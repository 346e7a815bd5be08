"""The sequence diagram's rules, without a browser: its style, where each row and lane goes, its words.

One :class:`Style` holds the diagram's numbers and colours at 12 px text (row
height, margins, lane widths, the gap a wait adds, colours, the legend). The
static SVG (:mod:`duplexlab.show.sequence_svg`) draws with it, and the widget
sends it to ``duplexlab/show/js/sequence.js`` (its ``drawing`` state), which
has no numbers of its own. :func:`layout`, :func:`describe` and
:func:`text_lines` follow the same rules as that file's ``layout``,
``describe`` and ``textLines``: ``tests/test_sequence.py`` runs both on a
recorded flow and compares them.

Pure: flow events (:class:`~duplexlab.wire.flow.FlowEvent`) in, positions
and text out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..wire.flow import ARROW_KINDS, FlowEvent

__all__ = [
    "STYLE",
    "Geometry",
    "Style",
    "closed_sides",
    "describe",
    "drawn_label",
    "gap_px",
    "geometry",
    "is_control",
    "lane_name",
    "layout",
    "round_half_up",
    "runs",
    "slot_name",
    "text_lines",
    "unanswered",
    "when",
]

CONTROL = ("PING", "PONG")  # keepalive frames, folded with pings=False


def _colors() -> dict[str, str]:
    # Okabe & Ito's hues, darkened to 4.5:1 or more on the diagram's white (as in show/plots.py)
    return {
        "up": "#0072B2",
        "down": "#BE5400",
        "sse": "#008460",
        "mark": "#555555",
        "cut": "#B00020",
        "lost": "#B00020",
    }


@dataclass(frozen=True)
class Style:
    """The diagram's look at 12 px text: the one source of its numbers, for Python and sequence.js.

    Lengths are px at ``font`` px text; a larger text scales them all (:func:`geometry`).
    Colours are 4.5:1 or more on the diagram's white paper (the span fills are behind no text).
    """

    font: int = 12
    row: int = 26  # between two rows close in time
    top: int = 50  # above the first row: the lifelines' names
    left: int = 116  # left of the first lane: the times
    time_x: int = 70  # where the times end (right-aligned)
    lane: int = 96  # one connection's column
    tap_gap: int = 70  # from the last lane to the tap
    server_gap: int = 340  # from the tap to the server: room for the labels
    right: int = 40  # right of the server
    gap_from: float = 0.05  # s: rows further apart in time get extra room …
    gap_per_root_s: float = 45  # … this many px times the square root of the wait in s …
    gap_max: float = 90  # … up to this many
    max_label: int = 48  # characters of an arrow's label drawn (the whole label is in its tooltip)
    colors: dict[str, str] = field(default_factory=_colors)  # arrows by direction, events, marks
    muted: str = "#5C5C5C"  # times, gaps, the legend: 6.7:1 on white
    lifeline: str = "#767676"  # 4.5:1 on white
    held_text: str = "#8A5A00"
    held_fill: str = "#f0c27b"  # a held request's span
    stream_fill: str = "#9fd8c3"  # an event stream's span
    ink: str = "#1A1A1A"  # the widget's text and controls
    focus: str = "#0B57D0"  # the widget's focus ring and chosen row
    legend: str = (
        "· N B = bytes on the wire · a frame's own length is its payload · hover or click an arrow for its bytes"
    )

    def to_json(self) -> dict[str, Any]:
        """What sequence.js receives (the widget's ``drawing``)."""
        return dataclasses.asdict(self)


STYLE = Style()


def round_half_up(x: float) -> int:
    """Round half up, as JavaScript's Math.round (Python's round() goes to even)."""
    return math.floor(x + 0.5)


@dataclass(frozen=True)
class Geometry:
    """Where things go, in px, for a text size: a :class:`Style`'s lengths scaled by ``font / style.font``."""

    font: int
    row: int
    top: int
    left: int
    time_x: int
    lane: int
    tap_gap: int
    server_gap: int
    right: int
    style: Style = STYLE  # the colours, the legend, the gap rule

    @property
    def k(self) -> float:
        return self.font / self.style.font


def geometry(font: int = STYLE.font, style: Style = STYLE) -> Geometry:
    """The diagram's geometry for ``font`` px text (the same numbers as sequence.js's ``geometry``)."""
    k = font / style.font

    def scaled(length: int) -> int:
        return round_half_up(length * k)

    return Geometry(
        font,
        row=scaled(style.row),
        top=scaled(style.top),
        left=scaled(style.left),
        time_x=scaled(style.time_x),
        lane=scaled(style.lane),
        tap_gap=scaled(style.tap_gap),
        server_gap=scaled(style.server_gap),
        right=scaled(style.right),
        style=style,
    )


def when(t: float) -> str:
    """A moment on the diagram's clock, always in seconds: ``1.878 s``."""
    return f"{t:.3f} s"


def gap_px(dt: float, k: float = 1.0, style: Style = STYLE) -> float:
    """Extra room between two rows ``dt`` seconds apart: waiting shows, but a long wait stays short."""
    if dt < style.gap_from:
        return 0.0
    return float(min(round_half_up(style.gap_max * k), round_half_up(style.gap_per_root_s * k * dt**0.5)))


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


def _sizes(e: FlowEvent) -> str:
    if e["kind"] == "frame":
        return f"{e['bytes']} bytes on the wire: {e['head']} frame header + {e['body']} payload"
    if e["kind"] == "sse":
        return f"{e['bytes']} bytes of the response's body"
    if e["kind"] in ("request", "response"):
        return f"{e['bytes']} bytes on the wire: {e['head']} header + {e['body']} body" + (
            "" if e["done"] else " so far"
        )
    return f"{e['bytes']} bytes" if e.get("bytes") else ""


def drawn_label(e: FlowEvent, max_label: int = STYLE.max_label) -> str:
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
    return label if len(label) <= max_label else label[: max_label - 1] + "…"


def closed_sides(shown: list[FlowEvent]) -> dict[str, set[str]]:
    """The sides (``"up"``: the client's, ``"down"``: the server's) each connection has closed."""
    closed: dict[str, set[str]] = {}
    for e in shown:
        if e["kind"] == "end":
            closed.setdefault(e["lane"], set()).add(e["dir"])
        elif e["kind"] == "cut":
            closed.setdefault(e["lane"], set()).update(("up", "down"))
        elif e["kind"] == "drop":  # the server's side is gone
            closed.setdefault(e["lane"], set()).add("down")
    return closed


def layout(shown: list[FlowEvent], earlier: int, geo: Geometry | None = None) -> dict[str, Any]:
    """Where everything goes (the same rules as sequence.js): rows spaced by time, lanes, lifelines."""
    g = geo or geometry()
    lanes = list(dict.fromkeys(e["lane"] for e in shown))
    y: float = g.top + g.row * (2 if earlier else 1)
    gaps: list[tuple[float, float]] = []
    prev: FlowEvent | None = None
    row_y: dict[int, float] = {}
    for e in shown:
        if prev is not None:
            extra = gap_px(e["t"] - prev["t"], g.k, g.style)
            if extra:
                gaps.append((y + extra / 2 + g.row / 2 - 4, e["t"] - prev["t"]))
            y += g.row + extra
        row_y[e["id"]] = y
        prev = e
    bottom = y + g.row
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for e in shown:
        first.setdefault(e["lane"], row_y[e["id"]])
        last[e["lane"]] = row_y[e["id"]]
    closed = closed_sides(shown)
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


def is_control(e: FlowEvent) -> bool:
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


def describe(events: list[FlowEvent], *, earlier: int = 0, skipped: int = 0, pings: bool = True) -> str:
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


def text_lines(shown: list[FlowEvent]) -> dict[int, str]:
    """One line per row, by event id, in time order: when, who to whom, the whole label, its sizes, how
    long it was held. The text view lists them; an arrow's hover details start with its line."""
    by_id = {e["id"]: e for e in shown}
    ended = {lane for lane, sides in closed_sides(shown).items() if len(sides) == 2}
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


def unanswered(shown: list[FlowEvent]) -> list[FlowEvent]:
    """Requests sent whole with no response among ``shown``: held by the server, or never answered."""
    answered = {e.get("req") for e in shown if e["kind"] == "response"}
    return [e for e in shown if e["kind"] == "request" and e["done"] and not e.get("lost") and e["id"] not in answered]
