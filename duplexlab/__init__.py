"""duplexlab: run one-way calls, polling and WebSockets on your machine, and measure them.

In a notebook::

    import duplexlab as dl
    lab = dl.start()
    lab.client().get("/api/health").json()

The layers (each imports only those above it in this list)::

    errors, feedback, measure   plain Python (feedback: ✓/✗/○ lines that fit, as text and HTML)
    wire/             pure decoding: HTTP and WebSocket bytes, SSE text, Engine.IO packets
    runtime/          the loop thread, the HTTP and WebSocket server hosts, the request policy
    apps/             the lessons' servers: notifications, long poll, SSE, judge, OTP, realtime
    cluster/          more than one server: server processes, a load balancer, the backplane (lesson 09)
    clients/          HTTP (sync + async), polling, resilient WebSocket client, page
    tap               the recording, fault-injecting proxy
    lab               assembles the servers and owns everything it hands out
    experiments/      polling runs, the four transports side by side
    show/             plots, widgets, the live sequence diagram, dl.doctor() (matplotlib, ipywidgets: on first use)
    check/            the exercises' checks, one module per lesson

Names are loaded on first use, so ``import duplexlab`` stays light: nothing
loads matplotlib or ipywidgets until a plot or a widget is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CheckFailed,
    DuplexLabError,
    HTTPStatusError,
    JoinRefused,
    LabNotRunningError,
    LimitError,
    OpenDoorError,
    PortInUseError,
)

if TYPE_CHECKING:
    from . import check, experiments, measure, show
    from .apps.notifications import Notification, NotificationStore
    from .clients import polling
    from .clients.http import AsyncClient, Client
    from .clients.page import Page
    from .clients.reach import can_reach
    from .clients.reply import Reply
    from .clients.resilient import Backoff, ResilientClient
    from .clients.seat import join
    from .experiments import arena
    from .experiments.arena import Arena
    from .lab import Lab, current, start, stop
    from .measure import Prediction, Stats, first_seen, reveal, summarize
    from .runtime.loop import LoopThread
    from .runtime.websocket import WebSocketServer
    from .show import plots, widgets
    from .show.doctor import doctor
    from .show.projector import projector
    from .tap import Tap
    from .wire import capture, sse
    from .wire import engineio as engine_io
    from .wire.capture import Capture, Chunk, Counts, Direction, HTTPMessage, WSFrame

# name → (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "Arena": ("duplexlab.experiments.arena", "Arena"),
    "AsyncClient": ("duplexlab.clients.http", "AsyncClient"),
    "Backoff": ("duplexlab.clients.resilient", "Backoff"),
    "Capture": ("duplexlab.wire.capture", "Capture"),
    "Chunk": ("duplexlab.wire.capture", "Chunk"),
    "Client": ("duplexlab.clients.http", "Client"),
    "Counts": ("duplexlab.wire.capture", "Counts"),
    "Direction": ("duplexlab.wire.capture", "Direction"),
    "HTTPMessage": ("duplexlab.wire.capture", "HTTPMessage"),
    "Lab": ("duplexlab.lab", "Lab"),
    "LoopThread": ("duplexlab.runtime.loop", "LoopThread"),
    "Notification": ("duplexlab.apps.notifications", "Notification"),
    "NotificationStore": ("duplexlab.apps.notifications", "NotificationStore"),
    "Page": ("duplexlab.clients.page", "Page"),
    "Prediction": ("duplexlab.measure", "Prediction"),
    "Reply": ("duplexlab.clients.reply", "Reply"),
    "ResilientClient": ("duplexlab.clients.resilient", "ResilientClient"),
    "Stats": ("duplexlab.measure", "Stats"),
    "Tap": ("duplexlab.tap", "Tap"),
    "WSFrame": ("duplexlab.wire.capture", "WSFrame"),
    "WebSocketServer": ("duplexlab.runtime.websocket", "WebSocketServer"),
    "arena": ("duplexlab.experiments.arena", None),
    "can_reach": ("duplexlab.clients.reach", "can_reach"),
    "capture": ("duplexlab.wire.capture", None),
    "check": ("duplexlab.check", None),
    "join": ("duplexlab.clients.seat", "join"),
    "current": ("duplexlab.lab", "current"),
    "doctor": ("duplexlab.show.doctor", "doctor"),
    "engine_io": ("duplexlab.wire.engineio", None),
    "experiments": ("duplexlab.experiments", None),
    "first_seen": ("duplexlab.measure", "first_seen"),
    "measure": ("duplexlab.measure", None),
    "plots": ("duplexlab.show.plots", None),
    "projector": ("duplexlab.show.projector", "projector"),
    "reveal": ("duplexlab.measure", "reveal"),
    "polling": ("duplexlab.clients.polling", None),
    "show": ("duplexlab.show", None),
    "sse": ("duplexlab.wire.sse", None),
    "start": ("duplexlab.lab", "start"),
    "stop": ("duplexlab.lab", "stop"),
    "summarize": ("duplexlab.measure", "summarize"),
    "widgets": ("duplexlab.show.widgets", None),
}

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
    "JoinRefused",
    "Lab",
    "LabNotRunningError",
    "LimitError",
    "LoopThread",
    "Notification",
    "NotificationStore",
    "OpenDoorError",
    "Page",
    "PortInUseError",
    "Prediction",
    "Reply",
    "ResilientClient",
    "Stats",
    "Tap",
    "WSFrame",
    "WebSocketServer",
    "arena",
    "can_reach",
    "capture",
    "check",
    "current",
    "doctor",
    "engine_io",
    "experiments",
    "first_seen",
    "join",
    "measure",
    "plots",
    "polling",
    "projector",
    "reveal",
    "show",
    "sse",
    "start",
    "stop",
    "summarize",
    "widgets",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'duplexlab' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
