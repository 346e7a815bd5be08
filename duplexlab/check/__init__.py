"""Checks for the exercises: call one with your function; it says ✓ or what is wrong.

Each check runs your function against the real lab (started with ``dl.start()``)
and returns a :class:`Result`: ✓ with what was checked, or ✗ with a message you
can act on. It never stops "Run All"; ``result.raise_if_failed()`` raises
:class:`~duplexlab.errors.CheckFailed` where you want a hard stop.
"""

from __future__ import annotations

from .lesson00 import time_one_request
from .lesson01 import fetch_new, header_share
from .lesson02 import backoff_poll, expected_wasted
from .lesson03 import event_data, resume_id
from .lesson04 import accept_key, frame_overhead, masking
from .lesson05 import lifecycle, no_sockets_left, unread_badge
from .lesson06 import cheapest, polls_per_event
from .lesson07 import backoff_wait, keepalive_deadline
from .lesson08 import accept_handshake
from .lesson09 import fresh_messages, pick_server
from .lesson10 import packet_kind, polling_requests
from .result import Result

__all__ = [
    "Result",
    "accept_handshake",
    "accept_key",
    "backoff_poll",
    "backoff_wait",
    "cheapest",
    "event_data",
    "expected_wasted",
    "fetch_new",
    "fresh_messages",
    "frame_overhead",
    "header_share",
    "keepalive_deadline",
    "lifecycle",
    "masking",
    "no_sockets_left",
    "packet_kind",
    "pick_server",
    "polling_requests",
    "polls_per_event",
    "resume_id",
    "time_one_request",
    "unread_badge",
]
