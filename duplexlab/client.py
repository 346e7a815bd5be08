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
import json as jsonlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import aiohttp

from .errors import HTTPStatusError
from .runtime import LoopThread
from .sse import Event, EventParser

if TYPE_CHECKING:
    from .polling import PollRun

__all__ = ["AsyncClient", "Client", "Reply", "TimedEvent"]


@dataclass(frozen=True)
class TimedEvent:
    """A server-sent event and the moment (lab clock) the client had it."""

    t: float
    event: Event

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


@dataclass
class _Options:
    base_url: str
    check: bool = True
    timeout: float = 10.0
    history: list[Reply] = field(default_factory=list)

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
        reply = Reply(
            method, str(response.url), response.status, dict(response.headers), body, t_sent, t_done
        )
    opts.history.append(reply)
    if opts.check if check is None else check:
        reply.raise_for_status()
    return reply


async def _events(session: aiohttp.ClientSession, opts: _Options, path: str,
                  last_event_id: str | None, on_open=None):
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = str(last_event_id)
    url = opts.url(path)
    async with session.get(url, headers=headers,
                           timeout=aiohttp.ClientTimeout(total=None, sock_connect=opts.timeout)) as response:
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
                connector=aiohttp.TCPConnector(limit=0, force_close=False)
            )
        return self._session


class AsyncClient(_SessionOwner):
    """An HTTP client to ``await`` in a cell (or any coroutine).

    Args:
        base_url: where paths are relative to, e.g. ``lab.url``.
        check: raise :class:`HTTPStatusError` on 4xx/5xx answers (per call too).
        timeout: seconds a request may take in all.

    Example::

        async with dl.AsyncClient(lab.url) as client:
            reply = await client.get("/api/health")
        reply.json()["ok"]   # True
    """

    def __init__(self, base_url: str, *, check: bool = True, timeout: float = 10.0) -> None:
        self._opts = _Options(base_url, check, timeout)

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        return await _send(self._ensure_session(), self._opts, method, path, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def events(self, path: str, *, last_event_id: str | None = None, on_open=None):
        """Read a server-sent event stream: ``async for e in client.events(path): ...``.

        Yields :class:`TimedEvent` objects as they arrive; stop with ``break``.
        ``last_event_id`` resumes after that event (sent as ``Last-Event-ID``);
        ``on_open()`` is called once the response has begun.
        """
        async for item in _events(self._ensure_session(), self._opts, path, last_event_id, on_open):
            yield item

    async def poll(self, path: str, **options: Any) -> PollRun:
        """GET ``path`` again and again until it says done (see :func:`duplexlab.polling.poll`)."""
        from .polling import poll

        return await poll(lambda: self.request("GET", path, check=False), **options)

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
    """An HTTP client for plain (blocking) calls from a cell.

    Its requests run on the lab's event-loop thread, so the servers keep
    serving while the cell waits. Without ``loop`` it starts a thread of its own.

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
    ) -> None:
        self._opts = _Options(base_url, check, timeout)
        self._own_loop = loop is None
        self._loop = loop or LoopThread(name="duplexlab-client")
        self._loop.start()

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

        Options are those of :func:`duplexlab.polling.poll` (``interval``,
        ``done``, ``backoff``, ``max_interval``, ``deadline``).

        Example::

            sub = client.post("/api/judge/submissions", json={"code": "print(42)"}).json()
            run = client.poll(sub["poll"], interval=0.2)
            run.done.json()["output"]   # '42\n'
        """
        from .polling import poll

        deadline = options.get("deadline")
        wait = None if deadline is None else deadline + self._opts.timeout + 1
        return self._loop.run(
            poll(lambda: self._request("GET", path, check=False), **options), wait
        )

    def events(
        self,
        path: str,
        *,
        count: int,
        timeout: float = 10.0,
        last_event_id: str | None = None,
    ) -> list[TimedEvent]:
        """Open an event stream, collect ``count`` events (or until ``timeout``), close it.

        Example::

            lab.schedule(0.2, "meera", "hello")
            [e.json()["text"] for e in client.events("/api/users/meera/events", count=1)]
        """

        async def collect() -> list[TimedEvent]:
            session = self._ensure_session()
            got: list[TimedEvent] = []

            async def read() -> None:
                async for item in _events(session, self._opts, path, last_event_id):
                    got.append(item)
                    if len(got) >= count:
                        return

            try:
                await asyncio.wait_for(read(), timeout)
            except asyncio.TimeoutError:
                pass
            return got

        return self._loop.run(collect(), timeout + self._opts.timeout)

    def close(self) -> None:
        """Close the connections (and the client's own thread). Twice is harmless."""
        session, self._session = self._session, None
        if session is not None and self._loop.running:
            self._loop.run(session.close(), 5)
        if self._own_loop:
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
