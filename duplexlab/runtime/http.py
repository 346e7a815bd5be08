"""The lab's HTTP server: an aiohttp.web application with JSON errors.

Every error the server sends is a JSON object ``{"error": ..., "hint": ...}``:
what was wrong, and what to send instead. Feature modules (``social``,
``judge``, ``otp``) add their routes to the application made here.

Every request first passes the lab's :class:`~duplexlab.runtime.policy.RequestPolicy`
(Host, Origin, JSON for changes). Bodies are read whole however they arrive
(in pieces, chunked) up to ``MAX_BODY``; beyond it the answer is 413. Each
connection is counted at the lab's :class:`~duplexlab.runtime.hygiene.ConnectionGate`
and must send its request's headers within ``HEADER_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import PortInUseError, is_address_in_use
from .hygiene import KEEPALIVE_TIMEOUT, ConnectionGate, GuardedProtocol
from .policy import RequestPolicy, runner_tokens, single

__all__ = ["END_KEY", "Ending", "HTTPServer", "POLICY_KEY", "ending", "json_error", "make_app", "read_json"]

MAX_BODY = 64 * 1024
BODY_TIMEOUT = 10.0  # seconds for a request's body to arrive, once its headers have


@dataclass(frozen=True)
class Ending:
    """Why the lab ends a request it holds (an event stream, a long poll) before its time: the status a
    request not yet answered gets, and the error and hint it (or the stream's last event) carries."""

    status: int
    error: str
    hint: str


# set with an Ending: the request must end now
END_KEY: web.RequestKey[asyncio.Future[Ending]] = web.RequestKey("duplexlab_end", asyncio.Future)


def ending(request: web.Request) -> asyncio.Future[Ending]:
    """The future a held request waits on besides its news: set (with an :class:`Ending`) when the lab
    ends it, e.g. because its student was removed. A request nobody can end gets one that never is."""
    future = request.get(END_KEY)
    return future if future is not None else asyncio.get_running_loop().create_future()


def json_error(status: int, error: str, hint: str = "") -> web.HTTPException:
    """An aiohttp HTTP exception whose body is ``{"error": ..., "hint": ...}``."""
    cls: type[web.HTTPException] = web.HTTPException
    for candidate in (
        web.HTTPBadRequest,
        web.HTTPForbidden,
        web.HTTPNotFound,
        web.HTTPMethodNotAllowed,
        web.HTTPRequestTimeout,
        web.HTTPConflict,
        web.HTTPGone,
        web.HTTPRequestEntityTooLarge,
        web.HTTPTooManyRequests,
        web.HTTPUnsupportedMediaType,
        web.HTTPMisdirectedRequest,
        web.HTTPInternalServerError,
        web.HTTPServiceUnavailable,
    ):
        if candidate.status_code == status:
            cls = candidate
            break
    body = json.dumps({"error": error, "hint": hint})
    if status == web.HTTPRequestEntityTooLarge.status_code:
        return web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY, actual_size=0, text=body, content_type="application/json"
        )
    if status == web.HTTPMethodNotAllowed.status_code:
        return web.HTTPMethodNotAllowed("?", [], text=body, content_type="application/json")
    exc = cls(text=body, content_type="application/json")
    exc.set_status(status)
    return exc


async def read_json(request: web.Request, *, example: str = "{}") -> dict[str, Any]:
    """The whole request body as a JSON object, or a 400/413 that says what was wrong.

    The body is read to its end however it arrives (several writes, chunked);
    more than ``MAX_BODY`` bytes, announced or not, is a 413.
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise json_error(
            413,
            f"the body is {request.content_length} bytes; the limit is {MAX_BODY}",
            "send a smaller JSON object",
        )
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            raw = await request.read()  # to the end, up to the app's client_max_size
    except TimeoutError:
        raise json_error(
            408, f"the body did not arrive within {BODY_TIMEOUT:g} s", "send the whole body at once"
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise json_error(413, f"the body is over the limit of {MAX_BODY} bytes", "send a smaller JSON object") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise json_error(400, f"the body is not UTF-8 text ({exc.reason})", f"send {example}") from None
    except json.JSONDecodeError as exc:
        raise json_error(
            400,
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            f"send a JSON object such as {example}",
        ) from None
    if not isinstance(data, dict):
        raise json_error(
            400,
            f"expected a JSON object, got {type(data).__name__}",
            f"send a JSON object such as {example}",
        )
    return data


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's own plain-text errors (404, 405, 413) into JSON ones."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        if exc.status == 404:
            raise json_error(
                404,
                f"no route for {request.method} {request.path}",
                "the lab serves " + ", ".join(sorted({r.canonical for r in request.app.router.resources()})),
            ) from None
        if exc.status == 405:
            raise json_error(
                405,
                f"{request.method} is not allowed on {request.path}",
                f"allowed: {', '.join(sorted(getattr(exc, 'allowed_methods', ()))) or 'none'}",
            ) from None
        if exc.status == 413:
            raise json_error(413, "the body is too large", f"keep it under {MAX_BODY} bytes") from None
        raise


POLICY_KEY = web.AppKey("policy", RequestPolicy)


@web.middleware
async def request_policy(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse what the lab's :class:`RequestPolicy` refuses; time the headers of the next request."""
    transport = request.transport
    guard = transport.get_protocol() if transport is not None else None
    if isinstance(guard, GuardedProtocol):
        guard.request_started()
    try:
        policy = request.app.get(POLICY_KEY)
        if policy is not None:

            def one(name: str) -> str | None:
                return single(request.headers.getall(name, []))

            origin = one("Origin")
            refusal = policy.check(
                request.method,
                host=one("Host"),
                origin=origin,
                content_type=one("Content-Type"),
                fetch_site=one("Sec-Fetch-Site"),
                path=request.path,
                runner=runner_tokens(request.headers.getall("Cookie", []), policy.runner_cookie),
            )
            if refusal is not None:
                policy.note(request.method, request.path, refusal.status, origin)
                raise json_error(refusal.status, refusal.error, refusal.hint)
        return await handler(request)
    finally:
        if isinstance(guard, GuardedProtocol):
            guard.request_finished()


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "t": time.perf_counter()})


def make_app(policy: RequestPolicy | None = None) -> web.Application:
    """An application with the request policy, JSON errors and ``GET /api/health``."""
    app = web.Application(middlewares=[request_policy, json_errors], client_max_size=MAX_BODY)
    if policy is not None:
        app[POLICY_KEY] = policy
    app.router.add_get("/api/health", health)
    return app


class _GuardedSite(web.TCPSite):
    """aiohttp's TCP site, with each connection wrapped in a :class:`GuardedProtocol`."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, gate: ConnectionGate) -> None:
        super().__init__(runner, host, port, backlog=1024)
        self.gate = gate

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None  # set by runner.setup(), which start() follows
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: GuardedProtocol(server(), self.gate),
            self._host,
            self._port,
            backlog=self._backlog,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


class HTTPServer:
    """Serve an aiohttp application on the current event loop.

    ``await server.start()`` binds (127.0.0.1, port 0 unless told), ``.url`` is
    then set; ``await server.close()`` stops it and may be called twice.
    """

    def __init__(
        self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0, gate: ConnectionGate | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.gate = gate or ConnectionGate()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        # handler_cancellation: a client that goes away (a closed tab, an abandoned
        # long poll) cancels its handler, so nothing stays registered for it.
        runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.25,
            handler_cancellation=True,
            keepalive_timeout=KEEPALIVE_TIMEOUT,
        )
        await runner.setup()
        site = _GuardedSite(runner, self.host, self.port, self.gate)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            if is_address_in_use(exc):
                raise PortInUseError(self.host, self.port) from None
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
