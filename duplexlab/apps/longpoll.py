"""Long polling: a request the server holds until there is news (or a timeout), then answers.

``GET /api/users/{user}/notifications/wait?after=ID&timeout=S`` answers at once
when there are notifications after ``ID``; else it holds the request until one
comes or ``timeout`` seconds pass (then an empty list and ``"timed_out": true``),
or the lab ends it (its student was removed from a classroom: then the status and
error the lab gives, e.g. 401 and why).
A client that goes away cancels its handler (the lab's HTTP server runs with
``handler_cancellation``), so nothing stays registered for it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..runtime.http import ending, json_error
from .notifications import STORE_KEY, Notification, NotificationStore, int_query, user_of

__all__ = ["LONG_POLL_DEFAULT", "LONG_POLL_MAX", "add_routes", "wait_notifications"]

LONG_POLL_DEFAULT = 25.0
LONG_POLL_MAX = 60.0


def add_routes(app: web.Application, store: NotificationStore) -> None:
    """``GET /api/users/{user}/notifications/wait?after=ID&timeout=S`` on ``app``."""
    app[STORE_KEY] = store
    app.router.add_get("/api/users/{user}/notifications/wait", wait_notifications)


async def wait_notifications(request: web.Request) -> web.Response:
    """Long polling: answer at once if there is news, else hold the request until there is.

    After ``timeout`` seconds with no news, answer with an empty list and
    ``"timed_out": true``; the client then simply asks again.
    """
    user = user_of(request)
    after = int_query(request, "after")
    raw = request.query.get("timeout", str(LONG_POLL_DEFAULT))
    try:
        timeout = float(raw)
        if not 0 <= timeout <= LONG_POLL_MAX:
            raise ValueError
    except ValueError:
        raise json_error(
            400, f"'timeout' must be 0 to {LONG_POLL_MAX:g} seconds, not {raw!r}", "send e.g. ?timeout=25"
        ) from None
    store = request.app[STORE_KEY]
    notes = store.for_user(user, after=after)
    if not notes:
        news = asyncio.get_running_loop().create_future()

        def listener(note: Notification) -> None:
            if note.user == user and not note.private and not news.done():
                news.set_result(note)

        unsubscribe = store.subscribe(listener)
        end = ending(request)
        try:
            await asyncio.wait({news, end}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            unsubscribe()
        if end.done():
            why = end.result()
            raise json_error(why.status, why.error, why.hint)
        notes = store.for_user(user, after=after)
    last = notes[-1].id if notes else after
    return web.json_response(
        {"user": user, "notifications": [n.to_json() for n in notes], "last_id": last, "timed_out": not notes}
    )
