"""Measured runs the lessons show: polling at several intervals, the four transports side by side."""

from __future__ import annotations

from .arena import Arena, ArenaResult
from .polling import PollingResult, measure_polling

__all__ = ["Arena", "ArenaResult", "PollingResult", "measure_polling"]
