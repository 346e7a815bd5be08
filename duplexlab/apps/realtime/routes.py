"""The paths the WebSocket server answers: one table, read at the handshake to check a path and after it to serve it.

Each :class:`Route` names a path (``/chat``), or a prefix followed by a name
(``/stream/<topic>``), and the channel's ``open``: given the handshake's
:class:`Target`, it returns the channel's ``serve`` bound to the handshake's
arguments, or raises ``ValueError`` saying what is wrong (400). The handler
later awaits exactly what ``open`` returned, so a path the handshake admits is
always one the server serves.

Example::

    routes = Routes([Route("/echo", "echo", lambda target: echo.serve, usage="/echo")])
    routes.open("/echo", seat=None)      # ("echo", echo.serve)
    routes.open("/nowhere", seat=None)   # Refusal(404, "no WebSocket endpoint at /nowhere; use /echo\\n")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from .records import ConnectionRecord

if TYPE_CHECKING:
    from .connection import RealtimeConnection

__all__ = ["Refusal", "Route", "Routes", "Serve", "Target"]

Serve = Callable[["RealtimeConnection", ConnectionRecord], Awaitable[None]]


@dataclass(frozen=True)
class Refusal:
    """A handshake answered with an HTTP status instead of a WebSocket: the status and a body saying why."""

    status: HTTPStatus
    text: str  # ends with a newline


@dataclass(frozen=True)
class Target:
    """What a handshake asks a route for."""

    name: str  # the path after a prefix route's prefix ("" for an exact path)
    query: dict[str, list[str]] = field(default_factory=dict)
    seat: str | None = None  # in a classroom, the student the socket acts as (None: not a classroom, or the teacher)

    def arg(self, key: str, default: str) -> str:
        """The query's first ``key``, or ``default``."""
        return self.query.get(key, [default])[0]


@dataclass(frozen=True)
class Route:
    """One path of the server and the channel that serves it."""

    path: str  # "/chat" (exactly), or "/stream/" (ending in "/": a prefix, then a name)
    channel: str  # its name, kept in the admission
    open: Callable[[Target], Serve]  # the channel's serve for this handshake; ValueError: 400, saying why
    usage: str = ""  # how a 404 names it ("": not named)
    own: bool = False  # the name is a user: a classroom student may follow only their own (403)

    def name_in(self, path: str) -> str | None:
        """The name after the prefix (``""`` for an exact path), or None if ``path`` is not this route's."""
        if self.path.endswith("/"):
            return path.removeprefix(self.path) if path.startswith(self.path) else None
        return "" if path == self.path else None


class Routes:
    """The route table: the first route that takes a path serves it."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)

    def find(self, path: str) -> tuple[Route, str] | None:
        """The route for ``path`` (without its query) and the name in it, or None."""
        for route in self.routes:
            name = route.name_in(path)
            if name is not None:
                return route, name
        return None

    def open(self, target: str, *, seat: str | None) -> tuple[str, Serve] | Refusal:
        """The channel and bound ``serve`` for a handshake's request target (path and query), or the refusal."""
        parts = urlsplit(target)
        found = self.find(parts.path)
        if found is None:
            return self.unknown(parts.path)
        route, name = found
        if route.own and seat is not None and name != seat:
            return Refusal(
                HTTPStatus.FORBIDDEN,
                f"you are {seat}: in a classroom you may follow only your own notifications, not {name}'s; "
                f"connect to {route.path}{seat}\n",
            )
        try:
            serve = route.open(Target(name, parse_qs(parts.query), seat))
        except ValueError as exc:
            return Refusal(HTTPStatus.BAD_REQUEST, f"{exc}\n")
        return route.channel, serve

    def unknown(self, path: str) -> Refusal:
        """The 404 for a path no route takes, naming the ones a client may use."""
        usages = [route.usage for route in self.routes if route.usage]
        listed = f"{', '.join(usages[:-1])} or {usages[-1]}" if len(usages) > 1 else "".join(usages)
        return Refusal(HTTPStatus.NOT_FOUND, f"no WebSocket endpoint at {path}; use {listed}\n")
