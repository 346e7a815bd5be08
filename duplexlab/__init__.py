"""duplexlab: run one-way calls, polling and WebSockets on your machine, and measure them.

In a notebook::

    import duplexlab as dl
    lab = dl.start()
    dl.Client(lab.url).get("/api/health").json()
"""

from __future__ import annotations

from . import arena, check, experiments, measure, plots, polling, sse, widgets
from .arena import Arena
from .capture import Capture, Chunk, Counts, Direction, HTTPMessage, WSFrame
from .client import AsyncClient, Client, Reply
from .errors import (
    CheckFailed,
    DuplexLabError,
    HTTPStatusError,
    LabNotRunningError,
    PortInUseError,
)
from .lab import Lab, current, start, stop
from .measure import Stats, first_seen, summarize
from .page import Page
from .realtime import WebSocketServer
from .resilient import Backoff, ResilientClient
from .runtime import LoopThread
from .social import Notification, NotificationStore
from .tap import Tap

__all__ = [
    "Arena",
    "AsyncClient",
    "Backoff",
    "Capture",
    "CheckFailed",
    "Chunk",
    "Client",
    "Counts",
    "Direction",
    "DuplexLabError",
    "HTTPMessage",
    "HTTPStatusError",
    "Lab",
    "LabNotRunningError",
    "LoopThread",
    "Notification",
    "NotificationStore",
    "Page",
    "PortInUseError",
    "Reply",
    "ResilientClient",
    "Stats",
    "Tap",
    "WSFrame",
    "WebSocketServer",
    "arena",
    "check",
    "experiments",
    "current",
    "first_seen",
    "measure",
    "plots",
    "polling",
    "sse",
    "start",
    "stop",
    "summarize",
    "widgets",
]

__version__ = "0.1.0"
