"""Measured runs the lessons show: polling at several intervals, the four transports side by side."""

from __future__ import annotations

from .arena import Arena, ArenaResult
from .polling import PollingResult, delay_claims, measure_polling
from .seeds import default_seed

__all__ = ["Arena", "ArenaResult", "PollingResult", "default_seed", "delay_claims", "measure_polling"]
