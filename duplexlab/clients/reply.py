"""What a request got back: :class:`Reply` (one HTTP answer) and :class:`TimedEvent` (one SSE event).

Plain data with the lab-clock moments (``time.perf_counter()``) they were sent
and received; no sockets here, so the polling loop and the clients share it.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

from ..errors import HTTPStatusError
from ..wire.sse import ServerSentEvent

__all__ = ["Reply", "TimedEvent"]


@dataclass(frozen=True)
class TimedEvent:
    """A server-sent event and the moment (lab clock) the client had it."""

    t: float
    event: ServerSentEvent

    def json(self) -> Any:
        return jsonlib.loads(self.event.data)


@dataclass
class Reply:
    """One request and its answer.

    ``t_sent`` and ``t_done`` are on the lab clock; ``elapsed`` is their difference.
    """

    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    t_sent: float
    t_done: float

    @property
    def elapsed(self) -> float:
        """Seconds from sending the request to having the whole answer."""
        return self.t_done - self.t_sent

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)

    def raise_for_status(self) -> Reply:
        """Raise :class:`HTTPStatusError` for a 4xx or 5xx answer; else return self."""
        if self.ok:
            return self
        error = hint = ""
        try:
            data = self.json()
            error, hint = str(data.get("error", "")), str(data.get("hint", ""))
        except (ValueError, AttributeError):
            error = self.text[:200]
        raise HTTPStatusError(self.method, self.url, self.status, error, hint)

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.method} {self.url} in {self.elapsed * 1000:.2f} ms>"
