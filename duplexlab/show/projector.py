"""Projector mode: text sized for the back row of a classroom.

``dl.projector()`` turns it on for this kernel, ``dl.projector(False)`` off. Plots drawn after it
use larger text; the course's widgets grow their text at once, those already on screen too, and
so do the checks' ✓/✗ lines. Each part of ``show/`` reads :func:`sizes` when it draws.

How the widgets follow: each group of controls the course shows is *dressed* (:func:`dress`): it
carries the class ``duplexlab-widget``, and ``duplexlab-projector`` while projector mode is on.
One style sheet (:func:`stylesheet`, made from :data:`NORMAL` and :data:`PROJECTOR`) sets the
sizes for both classes; the page gets it from a tiny widget with no view (:func:`page_style`),
which also marks the page's ``<body>`` so feedback lines in cells' outputs grow with the rest.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ..feedback import MARKS

__all__ = [
    "NORMAL",
    "PROJECTOR",
    "ProjectorMode",
    "Sizes",
    "dress",
    "is_on",
    "page_style",
    "projector",
    "sizes",
    "stylesheet",
    "verdict",
]


@dataclass(frozen=True)
class Sizes:
    """Text sizes for plots (points) and for widgets and feedback (CSS pixels)."""

    plot_text_pt: float
    plot_title_pt: float
    widget_text_px: int
    join_line_px: int
    feedback_px: int = 14
    widget_height_px: int = 28  # a slider's, a button's, a text field's row


NORMAL = Sizes(plot_text_pt=10, plot_title_pt=11, widget_text_px=13, join_line_px=18, feedback_px=14)
PROJECTOR = Sizes(
    plot_text_pt=14, plot_title_pt=16, widget_text_px=16, join_line_px=28, feedback_px=18, widget_height_px=34
)

WARNING = "#8a4b00"  # dark orange for caution buttons: 6.8:1 with white

_on = False
_dressed: weakref.WeakSet[Any] = weakref.WeakSet()  # every group dress() marked, while it lives
_style: Any = None  # the page style widget, made on first use


class ProjectorMode(str):
    """What ``dl.projector()`` returns: the line that says what changed (a ``str``), and ``on``."""

    on: bool

    def __new__(cls, on: bool, line: str) -> ProjectorMode:
        made = super().__new__(cls, line)
        made.on = on
        return made

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # a cell shows the line, not a quoted string
        p.text(str(self))


def projector(on: bool = True) -> ProjectorMode:
    """Turn projector mode on (or off with ``False``) for this kernel; says what changed.

    Widget text grows to 16 px (the classroom's join line to 28 px, the checks' ✓/✗ lines to 18 px),
    in widgets already on screen as well as new ones; plots drawn from now on use 14 pt text (those
    already drawn keep theirs: run their cells again).

    Example::

        dl.projector()         # before class, in the first cell
        dl.projector(False)    # back to normal sizes
    """
    global _on
    _on = bool(on)
    for widget in list(_dressed):
        try:
            (widget.add_class if _on else widget.remove_class)("duplexlab-projector")
        except Exception:
            pass  # a closed widget
    if _on or _style is not None:
        style = page_style()
        if style is not None:
            style.on = _on
    s = sizes()
    if _on:
        line = (
            f"projector mode on: widgets {s.widget_text_px} px (on screen too), join line {s.join_line_px} px, "
            f"✓/✗ {s.feedback_px} px, new plots {s.plot_text_pt:g} pt"
        )
    else:
        line = "projector mode off: normal sizes for widgets on screen and for plots from now on"
    return ProjectorMode(_on, line)


def is_on() -> bool:
    """Whether projector mode is on in this kernel."""
    return _on


def sizes() -> Sizes:
    """The sizes in force now."""
    return PROJECTOR if _on else NORMAL


def dress(widget: Any) -> Any:
    """Mark a group of controls (an ipywidgets container, or one anywidget) as the course's: it gets the
    sizes of :func:`stylesheet`, and projector mode's when it is on (now or later). Returns ``widget``."""
    widget.add_class("duplexlab-widget")
    if _on:
        widget.add_class("duplexlab-projector")
    _dressed.add(widget)
    page_style()
    return widget


def verdict(widget: Any, mark: str | None) -> None:
    """Show an ``HTML`` widget's line as a verdict: for ✓ or ✗ (its first character, kept in the text),
    white bold text on dark green or dark red (7:1 or more in any theme); ``None``: plain again."""
    colour = MARKS[mark][1] if mark in MARKS else None
    widget.style.background = colour
    widget.style.text_color = "#fff" if colour else None
    (widget.add_class if colour else widget.remove_class)("duplexlab-verdict")


def page_style() -> Any:
    """The page's style widget (made once per kernel): it brings :func:`stylesheet` to the page and
    marks ``<body>`` with ``duplexlab-projector`` while projector mode is on. It has no view: the
    page loads a widget's style when the kernel makes it. None where widgets are not installed."""
    global _style
    if _style is not None and getattr(_style, "comm", None) is not None:
        return _style
    try:
        import anywidget
        import traitlets
    except ImportError:  # a kernel without widgets: nothing to style
        return None

    class PageStyle(anywidget.AnyWidget):
        _esm = _PAGE_ESM
        _css = stylesheet()
        on = traitlets.Bool(False).tag(sync=True)

    _style = PageStyle(on=_on)
    return _style


_PAGE_ESM = """
const mark = (model) => document.body.classList.toggle("duplexlab-projector", !!model.get("on"));
export default {
  initialize({ model }) {
    mark(model);
    model.on("change:on", () => mark(model));
    return () => document.body.classList.remove("duplexlab-projector");
  },
  render({ el }) { el.style.display = "none"; },
};
"""


def _widget_rules(selector: str, s: Sizes) -> str:
    short = round(s.widget_text_px * 148 / 13)  # ipywidgets' "short" width (a button, a readout's limit) at 13 px
    return f"""
{selector} {{
  --jp-widgets-font-size: {s.widget_text_px}px;
  --jp-widgets-inline-height: {s.widget_height_px}px;
  --jp-widgets-inline-width: {round(s.widget_text_px * 300 / 13)}px;
  --jp-widgets-inline-width-short: {short}px;
  --jp-widgets-inline-width-tiny: {short // 2}px;
  --jp-widgets-slider-handle-size: {round(s.widget_text_px * 1.25)}px;
  font-size: {s.widget_text_px}px;
}}
{selector} .duplexlab-socket {{ font-size: {s.widget_text_px}px; }}
{selector} .duplexlab-socket input, {selector} .duplexlab-socket button {{ font-size: {s.widget_text_px}px; }}
{selector} .duplexlab-socket-log {{ font-size: {s.widget_text_px}px; }}
{selector} .duplexlab-code, {selector} .duplexlab-code textarea {{ font-size: {s.widget_text_px}px; }}
{selector} .duplexlab-code button {{ font-size: {s.widget_text_px}px; }}"""


def stylesheet() -> str:
    """The course's CSS for widgets and feedback, normal and in projector mode."""
    n, p = NORMAL, PROJECTOR
    return (
        "/* duplexlab: the course's widgets and feedback lines (duplexlab/show/projector.py) */"
        + _widget_rules(".duplexlab-widget", n)
        + _widget_rules(".duplexlab-widget.duplexlab-projector", p)
        + f"""
/* at 150 % browser zoom (or a narrow window) rows of controls wrap instead of cutting off their ends */
.duplexlab-widget .widget-hbox, .duplexlab-widget .jupyter-widget-hbox {{ flex-wrap: wrap; max-width: 100%; }}
.duplexlab-widget .widget-vbox, .duplexlab-widget .jupyter-widget-vbox {{ min-width: 0; max-width: 100%; }}
.duplexlab-widget .widget-inline-hbox, .duplexlab-widget .jupyter-widget-inline-hbox {{ max-width: 100%; }}
.duplexlab-widget .widget-readout, .duplexlab-widget .jupyter-widget-readout {{ flex-shrink: 0; overflow: visible; }}
/* colours that keep 4.5:1 with white text in light and dark themes (ipywidgets' orange has 2.8:1) */
.duplexlab-widget .jupyter-button.mod-warning, .duplexlab-widget .widget-button.mod-warning {{
  background-color: {WARNING}; color: #fff; }}
.duplexlab-widget .jupyter-button.mod-danger, .duplexlab-widget .widget-button.mod-danger {{
  background-color: {MARKS["✗"][1]}; color: #fff; }}
/* status lines that wrap stay close together (ipywidgets gives each line a control's height) */
.duplexlab-widget .widget-html-content, .duplexlab-widget .jupyter-widget-html-content {{
  line-height: 1.45; padding: 0.2em 0; }}
.duplexlab-dashboard-table td {{ white-space: nowrap; }}
.duplexlab-verdict {{ font-weight: 700; border-radius: 4px; padding: 0 0.5em; width: fit-content; }}
.duplexlab-feedback {{ font-size: {n.feedback_px}px; }}
body.duplexlab-projector .duplexlab-feedback {{ font-size: {p.feedback_px}px; }}
/* printed lines in projector mode wrap between words, never inside one */
body.duplexlab-projector .jp-OutputArea-output pre {{ word-break: normal; overflow-wrap: anywhere; }}
"""
    )
