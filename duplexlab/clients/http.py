"""HTTP clients for cells: :class:`Client` (plain calls) and :class:`AsyncClient` (``await``).

Both use aiohttp's client, which keeps connections alive and costs a fraction
of a millisecond per request on loopback. :class:`Client` runs its requests on
the lab's event-loop thread, so a plain call from a cell blocks only the cell;
:class:`AsyncClient` runs on whatever loop awaits it (the kernel's, in a cell).

Every answer is a :class:`Reply` that keeps when it was sent and received on the
lab clock (``time.perf_counter()``), and every client keeps its ``history``.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp

from ..errors import LabNotRunningError
from ..runtime.loop import LoopThread
from ..runtime.owner import Owner, shared_loop, shared_owner
from ..wire.sse import EventParser
from .polling import PollRun, poll
from .reply import Reply, TimedEvent

__all__ = ["AsyncClient", "Client", "Reply", "TimedEvent"]


@dataclass
class _Options:
    base_url: str
    check: bool = True
    timeout: float = 10.0
    history: list[Reply] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request (a credential)

    def url(self, path: str) -> str:
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/"))


async def _send(
    session: aiohttp.ClientSession,
    opts: _Options,
    method: str,
    path: str,
    *,
    json: Any = None,
    data: bytes | str | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    check: bool | None = None,
) -> Reply:
    url = opts.url(path)
    t_sent = time.perf_counter()
    async with session.request(
        method,
        url,
        json=json,
        data=data,
        params=params,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=opts.timeout),
    ) as response:
        body = await response.read()
        t_done = time.perf_counter()
        reply = Reply(method, str(response.url), response.status, dict(response.headers), body, t_sent, t_done)
    opts.history.append(reply)
    if opts.check if check is None else check:
        reply.raise_for_status()
    return reply


async def _events(session: aiohttp.ClientSession, opts: _Options, path: str, last_event_id: str | None, on_open=None):
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = str(last_event_id)
    url = opts.url(path)
    async with session.get(
        url, headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=opts.timeout)
    ) as response:
        if response.status >= 400:
            body = await response.read()
            Reply("GET", url, response.status, dict(response.headers), body, 0.0, 0.0).raise_for_status()
        if on_open is not None:
            on_open()
        parser = EventParser()
        async for chunk in response.content.iter_any():
            t = time.perf_counter()
            for event in parser.feed(chunk):
                yield TimedEvent(t, event)


async def _collect(stream, count: int | None, timeout: float | None) -> list[TimedEvent]:
    """The first ``count`` events of ``stream`` (all, without a count), or those before ``timeout``."""
    if count is None and timeout is None:
        raise ValueError("events() needs a count, a timeout or both; to read on and on, use iter_events()")
    got: list[TimedEvent] = []

    async def read() -> None:
        async for item in stream:
            got.append(item)
            if count is not None and len(got) >= count:
                return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        pass
    finally:
        await stream.aclose()
    return got


class _SessionOwner:
    """What both clients share: the options, the history and one lazily made aiohttp session.

    The session is made on first use, on the loop that uses it (aiohttp sessions
    belong to one loop).
    """

    _opts: _Options
    _session: aiohttp.ClientSession | None = None

    @property
    def history(self) -> list[Reply]:
        return self._opts.history

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=False), headers=self._opts.headers
            )
        return self._session


class AsyncClient(_SessionOwner):
    """An HTTP client to ``await`` in a cell (or any coroutine); it mirrors :class:`Client`.

    It runs on the loop that awaits it (the kernel's, in a cell) and uses no
    thread. Close it with ``await client.aclose()`` or ``async with``.

    Args:
        base_url: where paths are relative to, e.g. ``lab.url``.
        check: raise :class:`HTTPStatusError` on 4xx/5xx answers (per call too).
        timeout: seconds a request may take in all.

    Example::

        async with dl.AsyncClient(lab.url) as client:
            reply = await client.get("/api/health")
        reply.json()["ok"]   # True
    """

    def __init__(
        self, base_url: str, *, check: bool = True, timeout: float = 10.0, headers: dict[str, str] | None = None
    ) -> None:
        self._opts = _Options(base_url, check, timeout, headers=dict(headers or {}))

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Send a request and wait for the whole answer."""
        return await _send(self._ensure_session(), self._opts, method, path, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def poll(self, path: str, **options: Any) -> PollRun:
        """GET ``path`` again and again until it says done (see :func:`duplexlab.clients.polling.poll`)."""
        return await poll(lambda: self.request("GET", path, check=False), **options)

    async def events(
        self, path: str, *, count: int | None = None, timeout: float | None = None, last_event_id: str | None = None
    ) -> list[TimedEvent]:
        """Open an event stream, collect ``count`` events (or until ``timeout``), close it."""
        stream = self.iter_events(path, last_event_id=last_event_id)
        return await _collect(stream, count, timeout)

    async def iter_events(
        self, path: str, *, last_event_id: str | None = None, on_open: Callable[[], None] | None = None
    ) -> AsyncIterator[TimedEvent]:
        """Read an event stream as it comes: ``async for e in client.iter_events(path): ...``.

        Yields :class:`TimedEvent` objects as they arrive; stop with ``break``.
        ``last_event_id`` resumes after that event (sent as ``Last-Event-ID``);
        ``on_open()`` is called once the response has begun.
        """
        async for item in _events(self._ensure_session(), self._opts, path, last_event_id, on_open):
            yield item

    async def aclose(self) -> None:
        """Close the connections. Twice is harmless."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Client(_SessionOwner):
    """An HTTP client for plain (blocking) calls from a cell; it mirrors :class:`AsyncClient`.

    Its requests run on a loop thread, so the servers keep serving while the
    cell waits: the lab's (``lab.client()``), or else the one loop thread that
    every client made without a lab shares (no thread per client). Either way
    the client is owned: ``dl.stop()`` (or the lab's close) closes it, and a
    client dropped without ``close()`` closes its connections itself, so
    ``dl.Client(lab.url).get(...)`` in a cell leaves nothing behind. Safe to
    use from any thread except its own loop's; interrupting a blocking call
    (Kernel → Interrupt) cancels its work on the loop.

    Args:
        base_url: where paths are relative to, e.g. ``lab.url``.
        check: raise :class:`HTTPStatusError` on 4xx/5xx answers (per call too).
        timeout: seconds a request may take in all.

    Example::

        with dl.Client(lab.url) as client:
            client.get("/api/health").json()["ok"]   # True
    """

    def __init__(
        self,
        base_url: str,
        *,
        check: bool = True,
        timeout: float = 10.0,
        loop: LoopThread | None = None,
        owner: Owner | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._opts = _Options(base_url, check, timeout, headers=dict(headers or {}))
        self._loop = loop if loop is not None else shared_loop()
        self._owner = owner if owner is not None else shared_owner()
        self._owner.own(self, weak=True)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Reply:
        return await _send(self._ensure_session(), self._opts, method, path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Send a request and wait for the whole answer."""
        return self._loop.run(self._request(method, path, **kwargs), self._opts.timeout + 1)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def poll(self, path: str, **options: Any) -> PollRun:
        """GET ``path`` again and again until it says done; wait for the whole run.

        Options are those of :func:`duplexlab.clients.polling.poll` (``interval``,
        ``done``, ``backoff``, ``max_interval``, ``deadline``).

        Example::

            sub = client.post("/api/judge/submissions", json={"code": "print(42)"}).json()
            run = client.poll(sub["poll"], interval=0.2)
            run.done.json()["output"]   # '42\n'
        """
        deadline = options.get("deadline")
        wait = None if deadline is None else deadline + self._opts.timeout + 1
        return self._loop.run(poll(lambda: self._request("GET", path, check=False), **options), wait)

    def events(
        self, path: str, *, count: int | None = None, timeout: float | None = None, last_event_id: str | None = None
    ) -> list[TimedEvent]:
        """Open an event stream, collect ``count`` events (or until ``timeout``), close it.

        Example::

            lab.schedule(0.2, "meera", "hello")
            [e.json()["text"] for e in client.events("/api/users/meera/events", count=1, timeout=5)]
        """

        async def collect() -> list[TimedEvent]:
            stream = _events(self._ensure_session(), self._opts, path, last_event_id)
            return await _collect(stream, count, timeout)

        wait = None if timeout is None else timeout + self._opts.timeout
        return self._loop.run(collect(), wait)

    def iter_events(
        self, path: str, *, last_event_id: str | None = None, on_open: Callable[[], None] | None = None
    ) -> Iterator[TimedEvent]:
        """Read an event stream as it comes: ``for e in client.iter_events(path): ...``; ``break`` closes it."""
        items: queue.Queue = queue.Queue()
        done = object()

        async def read() -> None:
            try:
                async for item in _events(self._ensure_session(), self._opts, path, last_event_id, on_open):
                    items.put(item)
            except Exception as exc:
                items.put(exc)
            finally:
                items.put(done)

        future = self._loop.submit(read())
        try:
            while (item := items.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            future.cancel()

    def close(self) -> None:
        """Close the connections. Twice is harmless; from any thread but the loop's own."""
        self._owner.release(self)
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop.running:
            try:
                self._loop.run(session.close(), 5)
            except (LabNotRunningError, TimeoutError):
                pass

    def __del__(self) -> None:
        # dropped without close() (a one-liner in a cell): close the connections on the loop,
        # quietly, instead of leaving aiohttp to warn about an unclosed session
        session = self._session
        if session is not None and not session.closed:
            try:
                self._loop.submit(session.close())
            except (LabNotRunningError, RuntimeError):
                pass

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
