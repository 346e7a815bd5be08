"""A drawn plot with its text alternative: what ``dl.plots.*`` return, and what a notebook shows.

A :class:`Plot` holds a PNG, a short ``alt`` that says what the figure shows with this run's
numbers, and the same data as small :class:`Table` objects. In a notebook it shows as one
``<figure>``: the image with ``alt``, ``width`` and ``height`` (the browser knows its size before
it loads, so a cell drawn off screen is not laid out at 0×0), and a "Show the numbers"
disclosure with the tables. Exports (PDF, a notebook without HTML) get the PNG; plain text gets
the alt. The figure is a PNG with a white face: readable in a dark theme too.

Figures are drawn at 96 dots per inch, the CSS pixel's inch: at the image's own size a 14 pt
label in the figure is a 14 pt label on screen.
"""

from __future__ import annotations

import base64
import html
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DPI", "Plot", "Table", "figure_png", "png_size"]

DPI = 96  # CSS pixels per inch: a point in the figure is a point on screen at the image's own size


@dataclass(frozen=True)
class Table:
    """A plot's data as text: a caption, column names and rows of formatted values."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, caption: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
        return cls(caption, tuple(columns), tuple(tuple(str(v) for v in row) for row in rows))

    def html(self) -> str:
        """A small HTML table (a caption, a header row, one row per data row)."""
        esc = html.escape
        head = "".join(f'<th scope="col">{esc(c)}</th>' for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in self.rows)
        return (
            f"<table><caption>{esc(self.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def text(self) -> str:
        """The table as aligned plain text (its caption on the first line)."""
        widths = [max(len(r[i]) for r in (self.columns, *self.rows)) for i in range(len(self.columns))]
        lines = [self.caption, "  ".join(c.ljust(w) for c, w in zip(self.columns, widths)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in self.rows]
        return "\n".join(lines)

    def state(self) -> dict[str, Any]:
        """The table as plain data, for a widget's state."""
        return {"caption": self.caption, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


def figure_png(fig: Figure, *, dpi: float = DPI) -> bytes:
    """A matplotlib figure as PNG bytes (drawn with Agg, for this figure only), on a white face."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """The width and height, in pixels, that a PNG's header gives."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


STYLE = "display:block;max-width:100%;height:auto;flex:none;background:#fff"  # known size, never shrunk to nothing


class Plot:
    """A figure drawn as PNG, with a short ``alt`` and its data as ``tables``.

    A cell shows it as its last value, or ``dl.plots.*`` shows it where it is called (as
    ``plt.show()`` did) and returns it: then the same cell does not show it twice. ``alt`` is
    plain text for a screen reader; ``save(path)`` writes the PNG.

    Example::

        p = dl.plots.bytes_split(counts)   # shown here
        p.alt                              # 'Bytes on the wire: client → server 150 B …'
    """

    def __init__(self, png: bytes, alt: str, tables: Sequence[Table] = (), *, text_pt: float = 0.0) -> None:
        self.png = png
        self.alt = alt
        self.tables = tuple(tables)
        self.width, self.height = png_size(png)
        self.text_pt = text_pt  # the smallest text in the figure, in points at the image's own size
        self._shown_in: int | None = None

    def html(self) -> str:
        """The figure as HTML: the image with its alt and size, and a "Show the numbers" disclosure."""
        data = base64.b64encode(self.png).decode("ascii")
        img = (
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt, quote=True)}" '
            f'width="{self.width}" height="{self.height}" data-text-pt="{self.text_pt:g}" style="{STYLE}">'
        )
        details = ""
        if self.tables:
            details = (
                '<details class="duplexlab-numbers"><summary style="padding:2px 4px;cursor:pointer">'
                "Show the numbers</summary>" + "".join(t.html() for t in self.tables) + "</details>"
            )
        return f'<figure class="duplexlab-plot" style="margin:0 0 0.5em 0;max-width:100%">{img}{details}</figure>'

    def text(self) -> str:
        """The alt and the tables as plain text."""
        return "\n\n".join([self.alt, *(t.text() for t in self.tables)])

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {
            "text/html": self.html(),
            "image/png": base64.b64encode(self.png).decode("ascii"),
            "text/plain": self.alt,
        }
        metadata = {"image/png": {"width": self.width, "height": self.height}}
        return data, metadata

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import publish_display_data

        count = getattr(get_ipython(), "execution_count", None)
        if self._shown_in is not None and self._shown_in == count:
            return  # the plot function showed it in this cell already
        self._shown_in = count
        data, metadata = self._repr_mimebundle_()
        publish_display_data(data, metadata)

    def show(self) -> Plot:
        """Show it now, in a notebook (nothing elsewhere); a last value of the same cell won't repeat it."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            return self
        if get_ipython() is not None:
            self._ipython_display_()
        return self

    def save(self, path: str | Path) -> Path:
        """Write the PNG to ``path``; returns the path."""
        path = Path(path)
        path.write_bytes(self.png)
        return path

    def __repr__(self) -> str:
        return f"<Plot {self.width}×{self.height}: {self.alt}>"
