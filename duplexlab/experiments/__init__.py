"""Measured runs the lessons show: polling at several intervals, the four transports side by side,
who hears what on a cluster."""

from __future__ import annotations

from .arena import Arena, ArenaResult
from .cluster import FanOut, added_delay, delivery_delays, fan_out, running_on
from .polling import PollingResult, delay_claims, measure_polling
from .seeds import default_seed
from .socket_io import Wire, WireComparison, compare_wires, packet_claims, polling_claims

__all__ = [
    "Arena",
    "ArenaResult",
    "FanOut",
    "added_delay",
    "Wire",
    "WireComparison",
    "compare_wires",
    "packet_claims",
    "polling_claims",
    "PollingResult",
    "default_seed",
    "delay_claims",
    "delivery_delays",
    "fan_out",
    "measure_polling",
    "running_on",
]
