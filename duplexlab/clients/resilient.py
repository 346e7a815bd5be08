"""A WebSocket client that survives cuts: reconnect with backoff and jitter, resume without gaps.

Every message on ``/stream/<topic>`` carries a sequence number. The client
remembers the last one it saw; when the connection breaks it waits (an
exponential backoff with jitter, so a thousand clients do not all come back in
the same millisecond), reconnects with ``?last=N``, and the server replays what
it missed from a bounded buffer. Duplicates are dropped; if the server no longer
has the missing messages it says so (a ``gap`` message) and the client records it.

Its ``state`` is visible at any time: connecting, connected, reconnecting,
gave up, failed, closed; ``history`` keeps every change with its time. A
message it cannot read (not JSON, or not a stream message) is counted in
``skipped`` and the reason kept in ``last_error``; a failure of the client
itself sets ``failed`` with the reason (``status`` says it in one line).

It runs on the loop thread that clients made without a lab share, and it is
owned: ``dl.stop()`` closes it (no reconnect attempts afterwards).
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ..errors import LabNotRunningError
from ..runtime.loop import LoopThread
from ..runtime.owner import shared_loop, shared_owner
from ..runtime.websocket import LOGGER

__all__ = ["Backoff", "ResilientClient", "State"]


class State(str, enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    GAVE_UP = "gave up"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass
class Backoff:
    """Waits before reconnect attempt *k* (1, 2, …): ``first × 2^(k-1)``, capped, with jitter.

    "Equal jitter": half the wait is fixed, the other half random, so waits
    still grow but clients that lost the server together spread out.
    """

    first: float = 0.05
    cap: float = 5.0
    rng: random.Random = field(default_factory=random.Random)

    def wait(self, attempt: int) -> float:
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        base = min(self.cap, self.first * 2 ** (attempt - 1))
        return base / 2 + self.rng.uniform(0, base / 2)


class ResilientClient:
    """Follows ``/stream/<topic>`` on a lab, through any cuts.

    Args:
        url: the stream's URL, e.g. ``lab.ws_url + "/stream/scores"`` (or through a tap).
        resume: ask for missed messages on reconnect (False: start again from "now").
        backoff: how long to wait between attempts.
        max_attempts: give up after this many failed attempts in a row (None: never).
        ping_interval, ping_timeout: keepalive, so a dead path is noticed within about
            their sum (and then reconnected).
        close_timeout: how long a close waits for the other side before it just drops.
        owner: a label the lab keeps with the connection (e.g. the widget that shows the
            client), so leak checks list it as owned instead of left over. Not a credential.
        after: the last number already seen: -1 (the default) follows from now on; 0 asks
            first for everything the server still keeps.

    Example::

        client = dl.ResilientClient(lab.ws_url + "/stream/scores").start()
        lab.publish("scores", {"india": 250})
        client.wait_for(1)
        client.close()
    """

    def __init__(
        self,
        url: str,
        *,
        resume: bool = True,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        open_timeout: float = 5.0,
        ping_interval: float = 1.0,
        ping_timeout: float = 1.0,
        close_timeout: float = 0.5,
        owner: str | None = None,
        after: int = -1,
    ) -> None:
        if after < -1:
            raise ValueError(f"after is -1 (from now), 0 (everything kept) or the last number seen, not {after}")
        self.url = url
        self.resume = resume
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.open_timeout = open_timeout
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.close_timeout = close_timeout
        self.owner = owner
        self.state = State.CLOSED
        self.history: list[tuple[float, State]] = []
        self.received: list[tuple[int, Any, float]] = []  # (seq, data, when)
        self.last_seq = after
        self.duplicates = 0
        self.gaps: list[dict] = []
        self.missing: list[tuple[int, int]] = []  # numbers that never arrived (without resume)
        self.connections = 0
        self.skipped = 0
        self.last_error = ""
        self._loop: LoopThread | None = None
        self._task: asyncio.Task | None = None
        self._ws: Any = None  # the connection now open, if one is (on the loop)
        self._stopping = False
        self._arrived = threading.Condition()

    def _set(self, state: State) -> None:
        self.state = state
        self.history.append((time.perf_counter(), state))

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> ResilientClient:
        """Connect (in the background) and keep following. Starting twice is harmless."""
        if self._task is None:
            self._loop = loop = shared_loop()

            async def begin() -> asyncio.Task:
                task = asyncio.get_running_loop().create_task(self._run())
                task.add_done_callback(self._finished)
                return task

            self._task = loop.run(begin(), 5)
            shared_owner().own(self)
        return self

    def _finished(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._set(State.FAILED)

    @property
    def closed(self) -> bool:
        return self._task is None

    def close(self) -> None:
        """Stop following and close the connection. Twice is harmless; from any thread."""
        shared_owner().release(self)
        task, self._task = self._task, None
        loop, self._loop = self._loop, None
        if task is not None and loop is not None and loop.running:

            async def stop() -> None:
                self._stopping = True
                ws = self._ws
                if ws is not None:  # say goodbye properly (1000), not "internal error" (1011) from a cancel
                    try:
                        await asyncio.wait_for(ws.close(1000, "closed by its user"), min(self.close_timeout, 0.3))
                    except (OSError, ConnectionClosed, TimeoutError):
                        pass
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

            try:
                loop.run(stop(), 5)
            except (LabNotRunningError, TimeoutError):
                pass
        if task is not None and self.state is not State.FAILED:
            self._set(State.CLOSED)

    @property
    def status(self) -> str:
        """The state in words, with the reason when it failed: ``"failed: ValueError: …"``."""
        return f"{self.state.value}: {self.last_error}" if self.state is State.FAILED else self.state.value

    def __enter__(self) -> ResilientClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        self._set(State.CONNECTING)
        while True:
            last = self.last_seq if self.resume else -1
            url = f"{self.url}?last={last}"
            try:
                headers = {"X-Duplexlab-Owner": self.owner} if self.owner else None
                async with connect(
                    url,
                    proxy=None,
                    compression=None,
                    open_timeout=self.open_timeout,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    close_timeout=self.close_timeout,
                    additional_headers=headers,
                    max_queue=None,
                    logger=LOGGER,
                ) as ws:
                    self._ws = ws
                    self.connections += 1
                    failures = 0
                    self._set(State.CONNECTED)
                    async for raw in ws:
                        self._receive(raw)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass
            finally:
                self._ws = None
            if self._stopping:
                return
            failures += 1
            if self.max_attempts is not None and failures > self.max_attempts:
                self._set(State.GAVE_UP)
                return
            self._set(State.RECONNECTING)
            await asyncio.sleep(self.backoff.wait(failures))

    def _receive(self, raw: str | bytes) -> None:
        """Handle one message; one it cannot read is counted and skipped, never fatal."""
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError(f"expected a JSON object, got {type(message).__name__}")
            self._handle(message)
        except (ValueError, KeyError, TypeError) as exc:
            self.skipped += 1
            self.last_error = f"skipped a message it could not read ({type(exc).__name__}: {exc})"

    def _handle(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "subscribed" and not self.resume and self.last_seq >= 0:
            # starting again from "now": whatever was published meanwhile is lost
            if message["latest"] > self.last_seq:
                self.missing.append((self.last_seq + 1, message["latest"]))
                self.last_seq = message["latest"]
        elif kind == "gap":
            self.gaps.append(message)
        elif kind == "message":
            seq = message["seq"]
            if seq <= self.last_seq:
                self.duplicates += 1
                return
            if self.last_seq >= 0 and seq > self.last_seq + 1 and not self.gaps:
                self.missing.append((self.last_seq + 1, seq - 1))
            self.last_seq = seq
            with self._arrived:
                self.received.append((seq, message["data"], time.perf_counter()))
                self._arrived.notify_all()

    # -- for cells and tests -------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` messages have arrived in all; False if ``timeout`` passed first."""
        end = time.perf_counter() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = end - time.perf_counter()
                if left <= 0:
                    return False
                self._arrived.wait(left)
        return True

    @property
    def numbers(self) -> list[int]:
        return [seq for seq, _, _ in self.received]

    def __repr__(self) -> str:
        skipped = f", {self.skipped} unreadable skipped" if self.skipped else ""
        return (
            f"<ResilientClient {self.status}: {len(self.received)} message(s), last #{self.last_seq}, "
            f"{self.connections} connection(s), {self.duplicates} duplicate(s) dropped{skipped}>"
        )
