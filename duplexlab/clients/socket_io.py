"""A Socket.IO client for a notebook cell (lesson 10): python-socketio's ``AsyncClient`` on the lab's loop.

Each method is a plain call from a cell (or any thread): the client itself runs on the
lab's loop thread, like every server of the course, so a cell never waits on its own loop.
What arrives is kept in :attr:`SocketIOClient.events`, in order, with the moment it came.

The same client in a page is the JavaScript one (``io(url + "/chat")``); this one speaks
the same protocol, so a tap shows the same packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..errors import DuplexLabError, LabNotRunningError
from ..runtime.loop import LoopThread
from ..runtime.owner import Owner

__all__ = ["Received", "SocketIOClient", "SocketIOError"]

CONNECT_TIMEOUT = 10.0
QUIET = logging.getLogger("duplexlab.socketio.client")  # python-socketio's own lines go nowhere
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False
CLOSE_TIMEOUT = 2.0  # seconds to say goodbye (a DISCONNECT) before the connection is just dropped
KEPT = 10_000  # received events kept (the oldest go first)
KEPT_BYTES = 8 * 1024 * 1024  # and at most about this much of their data


class SocketIOError(DuplexLabError, RuntimeError):
    """A Socket.IO client could not do what was asked (connect, emit, wait for an answer)."""


@dataclass(frozen=True)
class Received:
    """One event that arrived: when (``time.perf_counter()``), its name and its data."""

    t: float
    event: str
    data: object


class SocketIOClient:
    """python-socketio's ``AsyncClient``, connected to ``url`` on ``namespace``, driven from any thread.

    Args:
        url: the server (``lab.url``, or ``tap.url`` to watch the packets).
        loop: the loop thread it runs on (the lab's).
        namespace: the namespace to join (``/chat``).
        name: the name it gives the server (``auth={"name": ...}``).
        transports: ``["polling", "websocket"]`` by default (start polling, then upgrade);
            ``["polling"]`` never upgrades, ``["websocket"]`` skips polling.
        owner: what closes it with the lab (the lab's :class:`~duplexlab.runtime.owner.Owner`).
        timeout: seconds to connect (the Engine.IO open and the namespace's CONNECT).
        headers: HTTP headers for every request it makes (the lab's own clients send the lab's key).
    """

    def __init__(
        self,
        url: str,
        *,
        loop: LoopThread,
        namespace: str = "/chat",
        name: str | None = None,
        transports: Sequence[str] | None = None,
        owner: Owner | None = None,
        timeout: float = CONNECT_TIMEOUT,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url, self.namespace, self.name = url, namespace, name
        self.timeout = timeout  # seconds to connect
        self._headers = dict(headers or {})  # sent on every request (the lab's key: never in a URL)
        self._sizes: list[int] = []  # each kept event's data, in bytes of JSON, beside self.events
        self._owner = owner  # closes it with the lab; forgets it when it is closed first
        self.transports = list(transports) if transports is not None else ["polling", "websocket"]
        self.events: list[Received] = []
        self._loop = loop
        self._lock = threading.Lock()
        self._arrived: asyncio.Condition | None = None
        self._client: Any = None
        self._session: aiohttp.ClientSession | None = None  # the client's HTTP session (polls, the upgrade)
        self.disconnects = 0  # how often the connection ended (a cut, the server's close)

    # -- connecting -----------------------------------------------------------------

    def connect(self) -> SocketIOClient:
        """Connect (the Engine.IO open, then the namespace's CONNECT); returns itself."""
        if self._owner is not None:
            self._owner.own(self)
        try:
            self._loop.run(self._connect(), self.timeout + CLOSE_TIMEOUT + 5)
        except BaseException:
            self.close()
            raise
        return self

    async def _connect(self) -> None:
        import socketio  # on first use: only lesson 10 needs it

        self._arrived = asyncio.Condition()
        # ours, so it is closed however the connection ends; it keeps cookies for 127.0.0.1 as a browser
        # does (aiohttp's default jar refuses them for an IP address): a balancer's sticky cookie works
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        client = socketio.AsyncClient(
            reconnection=False,
            handle_sigint=False,
            logger=QUIET,  # (False still prints python-engineio's errors, late, under some other cell)
            engineio_logger=QUIET,
            http_session=self._session,
        )

        async def any_event(event: str, *args: object) -> None:
            data = args[0] if len(args) == 1 else list(args) if args else None
            await self._keep(event, data)

        async def disconnected(*args: object) -> None:
            self.disconnects += 1
            await self._keep("disconnect", args[0] if args else None)

        client.on("*", any_event, namespace=self.namespace)
        client.on("disconnect", disconnected, namespace=self.namespace)
        auth = {"name": self.name} if self.name else None
        try:
            await asyncio.wait_for(  # (python-socketio may wait for a held poll far beyond its wait_timeout)
                client.connect(
                    self.url,
                    headers=self._headers,
                    namespaces=[self.namespace],
                    transports=self.transports,
                    auth=auth,
                    wait_timeout=self.timeout,
                ),
                self.timeout,
            )
        except Exception as exc:  # socketio.exceptions.ConnectionError, and what the transport raised
            with contextlib.suppress(Exception):  # nothing to say goodbye to: a held poll is just dropped
                await asyncio.wait_for(client.eio.disconnect(abort=True), CLOSE_TIMEOUT)
            await self._session.close()
            why = str(exc) or f"no answer within {self.timeout:g} s"
            raise SocketIOError(
                f"Socket.IO could not connect to {self.url} on {self.namespace}: {why}; "
                "is its server started (lab.socketio()), and does every request reach the server that "
                "holds the session (behind a balancer: sticky sessions)?"
            ) from None
        self._client = client

    async def _keep(self, event: str, data: object) -> None:
        size = len(json.dumps(data, default=str))
        with self._lock:
            self.events.append(Received(time.perf_counter(), event, data))
            self._sizes.append(size)
            kept = sum(self._sizes)
            while len(self.events) > KEPT or (kept > KEPT_BYTES and len(self.events) > 1):
                self.events.pop(0)
                kept -= self._sizes.pop(0)
        if self._arrived is not None:
            async with self._arrived:
                self._arrived.notify_all()

    # -- what it can do -----------------------------------------------------------------

    def _require(self) -> Any:
        if self._client is None or not self._client.connected:
            raise SocketIOError("this Socket.IO client is not connected: make a new one (lab.socketio_client())")
        return self._client

    def emit(self, event: str, data: object = None) -> None:
        """Send ``event`` with ``data``, asking for no acknowledgement (at most once: no answer, no retry)."""
        client = self._require()
        self._loop.run(client.emit(event, data, namespace=self.namespace), 10)

    def call(self, event: str, data: object = None, *, timeout: float = 5.0) -> Any:
        """Send ``event`` and wait for its acknowledgement (the server handler's return value).

        Raises:
            SocketIOError: no acknowledgement within ``timeout`` seconds (lost, or the server is slow).
        """
        client = self._require()

        async def ask() -> object:
            return await client.call(event, data, namespace=self.namespace, timeout=timeout)

        from socketio.exceptions import TimeoutError as NoAck  # (imported already: the client is connected)

        try:
            return self._loop.run(ask(), timeout + 5)
        except (NoAck, TimeoutError):
            raise SocketIOError(f"no acknowledgement of {event!r} within {timeout:g} s") from None

    def wait_for(self, event: str, *, after: float = 0.0, timeout: float = 5.0) -> Received:
        """The first ``event`` that arrived after ``after`` (a ``time.perf_counter()``), waiting up to ``timeout``."""

        def found() -> Received | None:
            with self._lock:
                return next((r for r in self.events if r.event == event and r.t > after), None)

        async def wait() -> Received | None:
            assert self._arrived is not None
            async with self._arrived:
                await self._arrived.wait_for(lambda: found() is not None)
            return found()

        hit = found()
        if hit is None and self._arrived is not None:
            try:
                hit = self._loop.run(asyncio.wait_for(wait(), timeout), timeout + 5)
            except TimeoutError:
                hit = None
        if hit is None:
            raise SocketIOError(f"no {event!r} event arrived within {timeout:g} s")
        return hit

    def received(self, event: str | None = None) -> list[object]:
        """The data of every event that arrived (only ``event``'s, if given), oldest first."""
        with self._lock:
            return [r.data for r in self.events if event is None or r.event == event]

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"``: how it talks now (None once disconnected)."""
        if self._client is None or not self._client.connected:
            return None
        return self._client.transport()

    @property
    def sid(self) -> str | None:
        """Its Engine.IO session id (what a long poll names in ``?sid=``)."""
        return self._client.eio.sid if self._client is not None else None

    # -- closing ------------------------------------------------------------------

    def close(self) -> None:
        """Disconnect (a DISCONNECT packet, then the transport closes). Twice is harmless."""
        client, self._client = self._client, None
        if self._owner is not None:
            self._owner.release(self)
        if client is None or not self._loop.running:
            return
        session = self._session

        async def goodbye() -> None:
            try:
                await asyncio.wait_for(client.disconnect(), CLOSE_TIMEOUT)
            except TimeoutError:  # a dead path: nobody hears the goodbye
                pass
            finally:
                # (a session the server ended, say by restarting, leaves Engine.IO's loops running: end them)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.eio.disconnect(abort=True), CLOSE_TIMEOUT)
                if session is not None:
                    await session.close()

        with contextlib.suppress(LabNotRunningError, TimeoutError):  # the lab stopped meanwhile: all is gone
            self._loop.run(goodbye(), CLOSE_TIMEOUT + 3)

    def __enter__(self) -> SocketIOClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"connected over {self.transport}" if self.connected else "closed"
        return f"<SocketIOClient {self.url} {self.namespace} {state}, {len(self.events)} events>"
