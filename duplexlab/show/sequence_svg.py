"""The sequence diagram as a standalone SVG document: what the browser draws, without its controls.

For a notebook run without a browser (nbclient, an exported notebook, a slide).
It lays the rows out with :func:`~duplexlab.show.sequence_layout.layout` and
draws with the same :class:`~duplexlab.show.sequence_layout.Style` as
``duplexlab/show/js/sequence.js``, so the two pictures match. Pure: flow
events in, SVG text out.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass
from typing import Any

from ..wire.flow import ARROW_KINDS, FlowEvent
from .sequence_layout import (
    STYLE,
    Geometry,
    Style,
    describe,
    drawn_label,
    geometry,
    is_control,
    lane_name,
    layout,
    round_half_up,
    text_lines,
    unanswered,
    when,
)

__all__ = ["static_svg"]

esc = html.escape
_svg_ids = itertools.count(1)  # ids for <title>/<desc>, unique among the SVGs of one exported page


@dataclass
class _Drawing:
    """What every part of one SVG needs: the rows shown, the geometry and where each thing goes."""

    shown: list[FlowEvent]
    geo: Geometry
    at: dict[str, Any]  # layout(): rows' y, lanes' x, the tap's and the server's x, lifelines' ends
    lines: dict[int, str]  # each row's text line (its tooltip)
    now: float | None  # on the diagram's clock: how long a waiting request has been held

    @property
    def style(self) -> Style:
        return self.geo.style

    @property
    def k(self) -> float:
        return self.geo.k


def static_svg(
    events: list[FlowEvent],
    *,
    earlier: int = 0,
    skipped: int = 0,
    title: str = "",
    now: float | None = None,
    font: int = STYLE.font,
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
    geo = geometry(font)
    d = _Drawing(shown, geo, layout(shown, earlier, geo), text_lines(shown), now)
    line_h = round_half_up(font * 1.4)
    folded = len(every) - len(shown)
    head = line_h * ((1 if title else 0) + 1 + (1 if folded else 0)) + 4
    desc = describe(every, earlier=earlier, skipped=skipped, pings=pings)
    out = _opening(geo, d.at["width"], d.at["height"] + head, title, desc)
    out += _headings(geo.style, title, folded, line_h)
    out.append(f'<g transform="translate(0 {head})">')
    out += _lifelines(d) + _notes(d, earlier) + _spans(d)
    for e in shown:
        out += _arrow(d, e) if e["kind"] in ARROW_KINDS else _mark(d, e)
    out += ["</g>", "</svg>"]
    return "\n".join(out)


def _opening(geo: Geometry, width: float, height: float, title: str, desc: str) -> list[str]:
    """The ``<svg>`` element, its title and description, the white paper and the arrowheads."""
    n = next(_svg_ids)
    name = f"Sequence diagram of {title}" if title else "Sequence diagram"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" class="duplexlab-seq-svg" font-family="sans-serif" '
        f'font-size="{geo.font}" role="img" aria-labelledby="dl-seq-{n}-title" aria-describedby="dl-seq-{n}-desc">',
        f'<title id="dl-seq-{n}-title">{esc(name)}</title>',
        f'<desc id="dl-seq-{n}-desc">{esc(desc)}</desc>',
        f'<rect x="0" y="0" width="{width:g}" height="{height:g}" fill="white"/>',
        "<defs>",
    ]
    for kind, color in geo.style.colors.items():
        out.append(
            f'<marker id="dl-head-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{color}"/></marker>'
        )
    out.append("</defs>")
    return out


def _headings(style: Style, title: str, folded: int, line_h: int) -> list[str]:
    """Above the diagram: its title, the legend, and how many ping/pong frames are folded."""
    out = []
    y = line_h - 4
    if title:
        out.append(f'<text x="8" y="{y}" font-weight="bold">{esc(title)}</text>')
        y += line_h
    out.append(f'<text class="legend" x="8" y="{y}" fill="{style.muted}">{esc(style.legend)}</text>')
    if folded:
        y += line_h
        out.append(
            f'<text class="folded" x="8" y="{y}" fill="{style.muted}" font-weight="bold">'
            f"ping/pong folded: {folded}</text>"
        )
    return out


def _lifelines(d: _Drawing) -> list[str]:
    """Each connection's lifeline (from its first row to its end), the tap's and the server's, named."""
    at, top, row, style = d.at, d.geo.top, d.geo.row, d.style
    lines = []
    for lane in at["lanes"]:  # a connection's line starts with it
        first = at["first"][lane]
        y1 = first - 6 if first > top + 2 * row else top - 8
        lines.append((at["x_lane"][lane], "client", y1, at["ends"][lane]))
    lines += [(at["x_tap"], "tap", top - 8, at["height"]), (at["x_server"], "server", top - 8, at["height"])]
    out = []
    for x, kind, y1, y2 in lines:
        dash = "2 3" if kind == "tap" else "none"
        out.append(
            f'<line class="lifeline" x1="{x:g}" y1="{y1:g}" x2="{x:g}" y2="{y2:g}" '
            f'stroke="{style.lifeline}" stroke-dasharray="{dash}"/>'
        )
    for x, name in [*at["slots"], (at["x_tap"], "tap"), (at["x_server"], "server")]:
        out.append(
            f'<text class="lifeline-name" x="{x:g}" y="{top - 14 * d.k:g}" text-anchor="middle" '
            f'font-weight="bold">{esc(name)}</text>'
        )
    for lane in at["lanes"]:
        if lane in at["shared"]:  # where a connection starts in a shared column, its name
            out.append(
                f'<text class="lane-start" x="{at["x_lane"][lane] + 4:g}" y="{at["first"][lane] - 9 * d.k:g}" '
                f'fill="{style.muted}">{esc(lane_name(lane))}</text>'
            )
    return out


def _notes(d: _Drawing, earlier: int) -> list[str]:
    """The count of earlier events not kept, and each wait between two rows."""
    out = []
    if earlier:
        out.append(
            f'<text class="earlier" x="{d.geo.left}" y="{d.geo.top + d.geo.row - 4:g}" fill="{d.style.muted}">'
            f"… {earlier} earlier events not kept</text>"
        )
    for y, dt in d.at["gaps"]:
        out.append(
            f'<text class="gap" x="{d.geo.time_x}" y="{y:g}" text-anchor="end" fill="{d.style.muted}">'
            f"⋮ {dt:.2f} s</text>"
        )
    return out


def _spans(d: _Drawing) -> list[str]:
    """On the client's lifeline: requests still waiting, requests held then answered, open streams."""
    out = []
    for e in unanswered(d.shown):
        out += _waiting(d, e)
    by_id = {e["id"]: e for e in d.shown}
    x_lane, row_y, style = d.at["x_lane"], d.at["row_y"], d.style
    for e in d.shown:
        if e["kind"] != "response":
            continue
        x = x_lane[e["lane"]]
        req = by_id.get(e.get("req", -1))
        if req is not None and e["t"] - req["t"] >= 0.1:
            y1, y2 = row_y[req["id"]], row_y[e["id"]]
            out.append(
                f'<rect class="span held" x="{x - 4:g}" y="{y1:g}" width="8" height="{y2 - y1:g}" '
                f'fill="{style.held_fill}"/>'
            )
            out.append(
                f'<text class="span-label" x="{x - 8:g}" y="{(y1 + y2) / 2 + 4:g}" text-anchor="end" '
                f'fill="{style.held_text}">held {e["t"] - req["t"]:.2f} s</text>'
            )
        if e.get("stream"):
            inner = [s for s in d.shown if s.get("in") == e["id"]]
            y1 = row_y[e["id"]]
            last = row_y[inner[-1]["id"]] if inner else y1
            y2 = last if e["done"] else d.at["height"]
            out.append(
                f'<rect class="span stream" x="{x - 3:g}" y="{y1:g}" width="6" '
                f'height="{max(2, y2 - y1):g}" fill="{style.stream_fill}"/>'
            )
    return out


def _waiting(d: _Drawing, e: FlowEvent) -> list[str]:
    """A request with no answer: held so far, or the connection ended without one."""
    end = d.at["ends"][e["lane"]]
    x, y1, ended = d.at["x_lane"][e["lane"]], d.at["row_y"][e["id"]], end < d.at["height"]
    if d.now is not None and d.now - e["t"] < 0.1 and not ended:
        return []  # just sent: its answer is on the way
    y2 = end if ended else d.at["height"]
    if ended:
        label = "no answer (the connection ended)"
    elif d.now is not None:
        label = f"held {d.now - e['t']:.2f} s so far"
    else:
        label = "held, no answer yet"
    return [
        f'<rect class="span held open" x="{x - 4:g}" y="{y1:g}" width="8" '
        f'height="{max(2, y2 - y1):g}" fill="{d.style.held_fill}" fill-opacity="0.6"/>',
        f'<text class="span-label" x="{x - 8:g}" y="{y1 + 16 * d.k:g}" text-anchor="end" '
        f'fill="{d.style.held_text}">{label}</text>',
    ]


def _row_start(d: _Drawing, e: FlowEvent, what: str) -> list[str]:
    """A row's time, and the group that holds its drawing, with its text line as a tooltip."""
    y = d.at["row_y"][e["id"]]
    return [
        f'<text class="time" x="{d.geo.time_x}" y="{y + 4 * d.k:g}" text-anchor="end" fill="{d.style.muted}">'
        f"{when(e['t'])}</text>",
        f'<g class="{what} kind-{e["kind"]} dir-{e["dir"] or "none"}" '
        f'data-id="{e["id"]}" data-label="{esc(e["label"])}" data-bytes="{e["bytes"]}">'
        f"<title>{esc(d.lines[e['id']])}</title>",
    ]


def _arrow(d: _Drawing, e: FlowEvent) -> list[str]:
    """A request, response, event, frame or other bytes: an arrow between the client and the server."""
    y, xc, x_tap, x_server = d.at["row_y"][e["id"]], d.at["x_lane"][e["lane"]], d.at["x_tap"], d.at["x_server"]
    kind, colors = e["kind"], d.style.colors
    color = colors["sse"] if kind == "sse" else colors["lost"] if kind == "swallowed" else colors[e["dir"]]
    x1, x2 = (xc, x_server) if e["dir"] == "up" else (x_server, xc)
    end = x_tap if kind == "swallowed" else x2
    dash = "5 3" if kind == "sse" else "none" if e["done"] else "2 2"
    head = "none" if kind == "swallowed" else f"url(#dl-head-{'sse' if kind == 'sse' else e['dir']})"
    out = _row_start(d, e, "arrow")
    out.append(
        f'<line x1="{x1:g}" y1="{y:g}" x2="{end:g}" y2="{y:g}" stroke="{color}" stroke-width="1.6" '
        f'stroke-dasharray="{dash}" marker-end="{head}"/>'
    )
    if kind == "swallowed":
        out.append(
            f'<text x="{x_tap:g}" y="{y + 4 * d.k:g}" text-anchor="middle" fill="{color}" '
            f'font-size="{d.geo.font + 2}">✕</text>'
        )
    else:
        out.append(f'<circle cx="{x_tap:g}" cy="{y:g}" r="2.5" fill="{d.style.lifeline}"/>')
    label = esc(drawn_label(e, d.style.max_label))
    out.append(f'<text class="label" x="{x_tap + 10 * d.k:g}" y="{y - 5 * d.k:g}" fill="{color}">{label}</text>')
    out.append("</g>")
    return out


def _mark(d: _Drawing, e: FlowEvent) -> list[str]:
    """A side closed (a short bar on its lifeline), or a break the tap played (a red zigzag at the tap)."""
    y, xc, x_tap = d.at["row_y"][e["id"]], d.at["x_lane"][e["lane"]], d.at["x_tap"]
    end = e["kind"] == "end"
    color = d.style.colors["mark"] if end else d.style.colors["cut"]
    x = (xc if e["dir"] == "up" else d.at["x_server"]) if end else x_tap
    path = f"M {x - 6:g} {y:g} h 12" if end else f"M {x - 8:g} {y - 6:g} l 4 12 l 4 -12 l 4 12 l 4 -12"
    out = _row_start(d, e, "mark")
    out.append(f'<path d="{path}" stroke="{color}" fill="none" stroke-width="2"/>')
    if not end:
        out.append(
            f'<text x="{xc:g}" y="{y + 5 * d.k:g}" text-anchor="middle" fill="{color}" '
            f'font-size="{d.geo.font + 2}">✕</text>'
        )
    out.append(
        f'<text class="label" x="{x_tap + 16 * d.k:g}" y="{y + 4 * d.k:g}" fill="{color}">{esc(e["label"])}</text>'
    )
    out.append("</g>")
    return out
