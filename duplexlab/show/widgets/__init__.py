"""Interactive controls for the lessons (ipywidgets and anywidget), one module per widget.

Widget callbacks may run on any thread (in JupyterLab 4.6, on a subshell
thread), so they never do the work themselves: they hand it to a loop thread
with its thread-safe calls. Plots are drawn to PNG on a figure of their own
(the notebook's backend is left alone) and shown in a ``PlotView``: an image with
its alt text and a "Show the numbers" table, laid out again whenever it comes
into view. The browser-side code lives in ``duplexlab/show/js/``.
"""

from __future__ import annotations

from .arena import Classroom, SideBySide
from .base import LabWatch, SliderExperiment, figure_png
from .browser import BrowserSocket, SeatSocket
from .browser_code import BrowserCode
from .dashboard import Dashboard
from .otp import OTPScreen
from .plot import PlotView
from .polling import PollingExperiment
from .sequence import Sequence
from .tap import TapControls

__all__ = [
    "BrowserCode",
    "BrowserSocket",
    "Classroom",
    "Dashboard",
    "LabWatch",
    "OTPScreen",
    "PlotView",
    "PollingExperiment",
    "Sequence",
    "SeatSocket",
    "SideBySide",
    "SliderExperiment",
    "TapControls",
    "figure_png",
]
