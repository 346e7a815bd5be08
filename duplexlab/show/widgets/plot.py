"""A plot inside a widget: what the experiments' widgets draw their runs into.

ipywidgets' ``Image`` has no size until its PNG loads and no text alternative, and after Run
All in JupyterLab it can stay 0×0 (its layout from before the PNG arrived, in a cell laid out
off screen). :class:`PlotView` shows a :class:`~duplexlab.show.figure.Plot` instead: an ``<img>``
with the PNG's width and height (so its box is right before it loads, and a new plot of the same
size does not move the page), the plot's ``alt``, and a "Show the numbers" disclosure with its
tables. ``js/plot.js`` lays the image out again when it loads and when it comes into view.
"""

from __future__ import annotations

import anywidget
import traitlets

from ..figure import Plot
from .base import JS

__all__ = ["PlotView"]


class PlotView(anywidget.AnyWidget):
    """Shows one :class:`~duplexlab.show.figure.Plot` at a time; ``show(plot)`` replaces it.

    Example::

        view = PlotView(empty="The plots appear after the first run.")
        view.show(dl.plots.keepalive(settings, measured, show=False))
    """

    _esm = (JS / "plot.js").read_text(encoding="utf-8")

    png = traitlets.Bytes(b"").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    alt = traitlets.Unicode("").tag(sync=True)
    """What the plot shows, with this run's numbers: the image's text alternative."""
    tables = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The plot's data: ``{"caption", "columns", "rows"}`` each, under "Show the numbers"."""
    text_pt = traitlets.Float(0.0).tag(sync=True)
    empty = traitlets.Unicode("").tag(sync=True)
    """Shown (in italics) while there is no plot yet."""

    def __init__(self, *, empty: str = "", **kwargs) -> None:
        super().__init__(empty=empty, **kwargs)
        self.plot: Plot | None = None

    def show(self, plot: Plot) -> None:
        """Show ``plot``: its image, size, alt and tables change in one message."""
        self.plot = plot
        with self.hold_sync():
            self.width, self.height = plot.width, plot.height
            self.alt = plot.alt
            self.tables = [t.state() for t in plot.tables]
            self.text_pt = plot.text_pt
            self.png = plot.png
