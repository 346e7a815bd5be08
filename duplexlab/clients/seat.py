"""A student's seat in a teacher's classroom lab: ``seat = dl.join(url, code, name="asha")``.

Joining exchanges the teacher's join code for a credential of your own; the
seat's clients carry it in every request (``Authorization: Bearer …``) and
every WebSocket handshake. ``seat.name`` is the name you got (lower case; ``asha-2``
if ``asha`` was taken): you act as that name and only as it. What a seat supports
(the learner's side of the lessons, against the teacher's lab):

- ``seat.client()`` / ``seat.async_client()``: HTTP clients for
  ``/api/users/<your name>/notifications`` (read, and create your own), ``…/notifications/wait``
  (long polling), ``…/events`` (SSE), ``/api/notifications/<id>`` of yours, the OTP service
  (shared by the class; its codes reach the teacher's ``lab.otp.inbox``), ``/api/health``;
- the judge, ``/api/judge/submissions``: where bubblewrap can isolate submissions on the teacher's
  machine, it runs yours there (at most one every two seconds on average, two queued or running at
  a time, 429 beyond; one place of the class's queue, a ``queue_delay`` of 3 s at most, a
  ``time_limit`` up to the class's); only you read your results, and ``"notify"`` may name only
  you. Where it cannot, it answers 503 "the classroom judge is off" and says why: run it on your
  own lab;
- ``seat.connect(path)``: WebSockets: the chat room (``/chat``: you chat as ``seat.name``, whatever
  ``name=`` says, and the welcome tells you so), your pushed notifications
  (``/notifications/<your name>``), streams (``/stream/<topic>``), ``/echo``, ``/alive``;
- ``dl.widgets.SeatSocket(seat, path)``: the same sockets from the browser page, on a one-use
  ticket (``seat.ticket()``);
- ``dl.widgets.PollingExperiment(own_lab, follow=seat)``: your polling experiment, on your own lab,
  at the class's polling interval the teacher sets;
- the exercise checks (``dl.check.…``) tell the teacher's dashboard how each went (✓, ✗ or ○,
  never the code).

Refused with 403 and what to use instead: anyone else's notifications, sockets and judge results
(one of theirs by id answers 404, as one that does not exist), and creating notifications for
anyone else. Limits (the teacher's ``lab.roster.limits``): 3 seats per machine (the same name again
from it: 409), 4 open sockets and 50 messages or 64 KiB a second across them (1008 and why beyond).
What stays the teacher's: connection records, notifications for others, private tokens, faults and
taps, the cluster, removing students and rotating the code.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.sync.client import connect as ws_connect

from ..runtime.owner import shared_owner
from ..runtime.websocket import LOGGER, ClosingSocket
from .http import AsyncClient, Client
from .reach import can_reach

__all__ = ["Seat", "current_seat", "join"]

logger = logging.getLogger(__name__)

_current: Seat | None = None


@dataclass
class Seat:
    """Your place in a classroom lab: its address, the name you got, your credential (keep it to yourself)."""

    url: str
    name: str
    credential: str = field(repr=False)
    ws_url: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}

    def client(self, **options: Any) -> Client:
        """A blocking HTTP client to the teacher's lab that carries your credential."""
        return Client(self.url, headers=self.headers, **options)

    def async_client(self, **options: Any) -> AsyncClient:
        """The same for ``await``; close it with ``await c.aclose()``."""
        return AsyncClient(self.url, headers=self.headers, **options)

    def report(self, check: str, status: str, *, wait: bool = False) -> None:
        """Tell the teacher's dashboard how an exercise check went (✓, ✗ or ○).

        Best effort, on a thread of its own: a check never waits for the teacher's
        laptop (which may have left) and never fails because of it. ``wait=True``
        waits for it (tests).
        """

        def send() -> None:
            try:
                with Client(self.url, headers=self.headers, timeout=2, check=False) as client:
                    client.post("/api/classroom/checks", json={"check": check, "status": status})
            except Exception:  # the dashboard misses one line; the student's check already printed its answer
                logger.debug(
                    "the dashboard at %s missed %s's check %s: %s", self.url, self.name, check, status, exc_info=True
                )

        sender = threading.Thread(target=send, name="duplexlab-check-report", daemon=True)
        sender.start()
        if wait:
            sender.join(5)

    def ticket(self) -> str:
        """A one-use ticket for one WebSocket from a browser page (the widget asks for it)."""
        with Client(self.url, headers=self.headers) as client:
            return client.post("/api/classroom/ticket", json={}).json()["ticket"]

    def connect(self, path: str, **options: Any):
        """A WebSocket to the teacher's lab (``"/chat?name=asha"``) that carries your credential."""
        options = {"proxy": None, "compression": None, "open_timeout": 10, "legacy": True, "logger": LOGGER, **options}
        options["additional_headers"] = {**self.headers, **dict(options.get("additional_headers") or {})}
        ws = ws_connect(self.ws_url + path, **options)
        shared_owner().own(ClosingSocket(ws))
        return ws


def join(url: str, code: str, *, name: str) -> Seat:
    """Join the teacher's classroom lab at ``url`` with the join ``code``; returns your :class:`Seat`.

    Raises:
        ConnectionError: the lab cannot be reached (the message says why, in plain words).
        HTTPStatusError: the lab refused: a wrong or changed code (403), a name it cannot take (400).
    """
    reach = can_reach(url)
    if not reach and reach.cause != "denied":
        raise ConnectionError(str(reach))
    with Client(url) as door:  # a 403 (wrong code) or 400 (bad name) raises HTTPStatusError with the hint
        answer = door.post("/api/classroom/join", json={"code": code, "name": name}).json()
    global _current
    host = urlsplit(url).hostname
    _current = Seat(url, answer["name"], answer["credential"], f"ws://{host}:{answer['ws_port']}")
    return _current


def current_seat() -> Seat | None:
    """The seat the last :func:`join` in this process gave (its checks report to the teacher), or None."""
    return _current
