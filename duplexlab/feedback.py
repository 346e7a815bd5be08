"""How the course writes feedback: ✓/✗/○ lines that fit a notebook, as text and as HTML that stands out.

Plain Python, no display library: a check's result, a lesson's claim lines and every table the
package prints go through here.

- :func:`fit` wraps text at word boundaries to :data:`WIDTH` columns (JupyterLab breaks a longer
  line anywhere, even mid-word: "byt / es each"). A wrapped line goes on indented under its start.
- :func:`feedback_html` shows ✓, ✗ and ○ lines with the mark in a box of its own colour, bold, and
  the text in the theme's colour: meaning by symbol, weight *and* colour, 4.5:1 or more in
  JupyterLab's light and dark themes (white on the box's colour, whatever the page behind it).
- :class:`Feedback` is a ``str`` that prints as plain lines and, as a cell's value, shows as that HTML.
"""

from __future__ import annotations

import html
import textwrap

__all__ = ["MARKS", "WIDTH", "Feedback", "contrast", "feedback_html", "fit", "fit_parts", "mark_html"]

WIDTH = 100
"""Columns every printed line fits in (a notebook at 1366 px with its side panel open shows about 110)."""

# mark → (what it means, box colour). White on each is 4.5:1 or more (see contrast()).
MARKS: dict[str, tuple[str, str]] = {
    "✓": ("passed", "#1b5e20"),  # dark green: 7.9:1 with white
    "✗": ("failed", "#b00020"),  # dark red: 7.3:1 with white
    "○": ("not attempted yet", "#455a64"),  # blue grey: 7.2:1 with white
}


def fit(text: str, width: int = WIDTH, *, indent: str = "  ") -> str:
    """``text`` with every line wrapped between words to ``width`` columns.

    A wrapped line goes on under itself, indented by its own leading spaces plus ``indent``.
    A word longer than the width (a URL, a hex dump) stays whole on a line of its own.
    """
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip(" "))]
        out.extend(
            textwrap.wrap(
                line.strip(" "),
                width=width,
                initial_indent=lead,
                subsequent_indent=lead + indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [line]
        )
    return "\n".join(out)


def fit_parts(parts: list[str], sep: str = " · ", width: int = WIDTH, *, indent: str = "  ") -> str:
    """``parts`` joined by ``sep`` on one line, or on as few as fit ``width``, each break between two
    parts (the next line indented); a part too long for a line is wrapped between its words."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(sep) + len(part) <= width:
            lines[-1] += sep + part
        else:
            lines.append((indent if lines else "") + part)
    return fit("\n".join(lines), width, indent=indent)


def mark_html(mark: str) -> str:
    """The mark alone as HTML: bold, white, in a box of its colour, named for a screen reader."""
    meaning, colour = MARKS[mark]
    return (
        f'<span class="duplexlab-mark" role="img" aria-label="{meaning}" title="{meaning}" '
        f'style="display:inline-block;min-width:1.4em;text-align:center;font-weight:700;color:#fff;'
        f'background:{colour};border-radius:4px;padding:0 0.25em;margin-right:0.45em">{mark}</span>'
    )


def _line_html(line: str, *, bold_to_colon: bool) -> str:
    stripped = line.lstrip(" ")
    mark = stripped[:1]
    if mark not in MARKS:
        return f'<div style="white-space:pre-wrap">{html.escape(line)}</div>'
    rest = stripped[1:].lstrip(" ")
    head, sep, tail = rest.partition(": ") if bold_to_colon else ("", "", rest)
    text = f"<b>{html.escape(head)}</b>{sep}{html.escape(tail)}" if sep else html.escape(rest)
    colour = MARKS[mark][1]
    return (
        f'<div class="duplexlab-feedback-line" style="display:flex;align-items:baseline;'
        f'border-left:4px solid {colour};padding:2px 0 2px 6px;margin:2px 0">'
        f"{mark_html(mark)}<span>{text}</span></div>"
    )


def feedback_html(text: str, *, bold_to_colon: bool = False) -> str:
    """``text``'s lines as HTML: each ✓/✗/○ line with its mark boxed and a bar of its colour, others plain.

    ``bold_to_colon``: the words before a line's first ": " are bold (a check's name). Lines that
    wrapped (indented under a marked line) join the line above. The text keeps the theme's colour.
    """
    lines: list[str] = []
    for line in text.split("\n"):
        if lines and line.startswith(" ") and lines[-1].lstrip(" ")[:1] in MARKS and line.strip():
            lines[-1] += " " + line.strip()  # a wrapped line: HTML wraps it again, at the page's width
        else:
            lines.append(line)
    body = "".join(_line_html(line, bold_to_colon=bold_to_colon) for line in lines)
    return f'<div class="duplexlab-feedback" style="line-height:1.5">{body}</div>'


class Feedback(str):
    """Lines of feedback: printed, plain text (each fits :data:`WIDTH` columns); as a cell's value, HTML
    with each ✓/✗/○ mark boxed in its colour, bold."""

    __slots__ = ()

    def __new__(cls, text: str = "") -> Feedback:
        return super().__new__(cls, fit(text))

    def _repr_html_(self) -> str:
        return feedback_html(str(self))

    def _repr_pretty_(self, p, cycle: bool) -> None:  # IPython's text/plain: the lines, not a quoted str
        p.text(str(self))


def _luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of ``#rrggbb``."""
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two ``#rrggbb`` colours (1 to 21; text needs 4.5)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
