"""The lab's HTTP server: an aiohttp.web application with JSON errors.

Every error the server sends is a JSON object ``{"error": ..., "hint": ...}``:
what was wrong, and what to send instead. Feature modules (``social``, later
``judge``, ``otp``, ``sse``) add their routes to the application made here.
"""

from __future__ import annotations

import errno
import json
import time
from typing import Any

from aiohttp import web

from .errors import PortInUseError

__all__ = ["HTTPServer", "json_error", "make_app", "read_json"]

MAX_BODY = 64 * 1024


def json_error(status: int, error: str, hint: str = "") -> web.HTTPException:
    """An aiohttp HTTP exception whose body is ``{"error": ..., "hint": ...}``."""
    cls = web.HTTPException
    for candidate in (
        web.HTTPBadRequest,
        web.HTTPNotFound,
        web.HTTPMethodNotAllowed,
        web.HTTPConflict,
        web.HTTPGone,
        web.HTTPRequestEntityTooLarge,
        web.HTTPTooManyRequests,
        web.HTTPUnsupportedMediaType,
        web.HTTPInternalServerError,
    ):
        if candidate.status_code == status:
            cls = candidate
            break
    body = json.dumps({"error": error, "hint": hint})
    if cls is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY, actual_size=0, text=body, content_type="application/json"
        )
    if cls is web.HTTPMethodNotAllowed:
        return web.HTTPMethodNotAllowed(
            "?", [], text=body, content_type="application/json"
        )
    exc = cls(text=body, content_type="application/json")
    exc.set_status(status)
    return exc


async def read_json(request: web.Request, *, example: str = "{}") -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413 that says what was wrong."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise json_error(
            413,
            f"the body is {request.content_length} bytes; the limit is {MAX_BODY}",
            "send a smaller JSON object",
        )
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise json_error(
            413, f"the body is over the limit of {MAX_BODY} bytes", "send a smaller JSON object"
        )
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
async def json_errors(request: web.Request, handler):
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
                "the lab serves "
                + ", ".join(sorted({r.canonical for r in request.app.router.resources()})),
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


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "t": time.perf_counter()})


def make_app() -> web.Application:
    """An application with JSON errors and ``GET /api/health``; add routes to it."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app.router.add_get("/api/health", health)
    return app


class HTTPServer:
    """Serve an aiohttp application on the current event loop.

    ``await server.start()`` binds (127.0.0.1, port 0 unless told), ``.url`` is
    then set; ``await server.close()`` stops it and may be called twice.
    """

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.25
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self.port) from None
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
