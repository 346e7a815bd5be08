"""``/private/<user>``: every notification of ``<user>``, private ones included, after a token.

The token comes in the first message, ``{"type": "auth", "token": ...}``, never
in the URL, where logs would keep it. It must arrive within ``AUTH_TIMEOUT``
seconds, be one the lab issued for this user (``lab.issue_token(user)``), and
be unexpired; else the socket closes with 1008 and the reason.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time

from ..notifications import valid_user
from .connection import RealtimeConnection
from .feed import Feed
from .messages import parse_message
from .records import ConnectionRecord
from .routes import Serve, Target

__all__ = ["AUTH_TIMEOUT", "MAX_TOKEN", "TOKEN_TTL", "Private", "Tokens"]

MAX_TOKEN = 128
TOKEN_TTL = 3600.0
AUTH_TIMEOUT = 5.0


class Tokens:
    """The tokens the lab issued for private channels, each for one user until it expires (lab clock)."""

    def __init__(self) -> None:
        self.issued: dict[str, tuple[str, float]] = {}  # token -> (user, expiry on the lab clock)

    def issue(self, user: str, *, ttl: float = TOKEN_TTL) -> str:
        """A secret token for ``user``'s private channel, valid for ``ttl`` seconds."""
        valid_user(user)
        now = time.perf_counter()
        self.issued = {t: v for t, v in self.issued.items() if v[1] > now}  # drop expired ones
        token = secrets.token_urlsafe(16)
        self.issued[token] = (user, now + ttl)
        return token

    def user(self, token: object) -> tuple[str | None, str]:
        """Whose token this is, or ``(None, why not)``."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return None, f"invalid token: it must be a string of 1 to {MAX_TOKEN} characters"
        user, expiry = self.issued.get(token, (None, 0.0))
        if user is None:
            return None, "invalid token: not one the lab issued"
        if expiry <= time.perf_counter():
            return None, "invalid token: it has expired"
        return user, ""


class Private:
    """The ``/private/<user>`` channel: a token first, then ``user``'s :class:`~.feed.Feed`, private ones included."""

    def __init__(self, feed: Feed, tokens: Tokens, *, max_size: int) -> None:
        self.feed, self.tokens, self.max_size = feed, tokens, max_size

    def open(self, target: Target) -> Serve:
        valid_user(target.name)
        return functools.partial(self.serve, user=target.name)

    async def serve(self, ws: RealtimeConnection, record: ConnectionRecord, *, user: str) -> None:
        try:
            raw = await asyncio.wait_for(ws.recv(), AUTH_TIMEOUT)
            record.received += 1
            if len(raw) > self.max_size:
                raise ValueError(f"the first message is {len(raw)} bytes; an auth message is short")
            data = parse_message(raw, types=("auth",))
        except TimeoutError:
            await ws.close(1008, f'send {{"type": "auth", "token": ...}} within {AUTH_TIMEOUT:g} s')
            return
        except ValueError as exc:
            await ws.close(1008, f'the first message must be {{"type": "auth", "token": ...}}: {str(exc)[:60]}')
            return
        owner, why = self.tokens.user(data.get("token"))
        if owner != user:
            why = why or "invalid token: it belongs to another user"
            await ws.close(1008, f"{why}; get a token for {user} with lab.issue_token({user!r})"[:120])
            return
        await self.feed.serve(ws, record, user=user, private=True)
