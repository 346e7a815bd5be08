"""Server-sent events: one response that stays open, one event per notification.

``GET /api/users/{user}/events`` streams ``text/event-stream``; each event's id
is the notification's id, so a client that reconnects with ``Last-Event-ID``
gets what it missed first. A reader too slow for ``SSE_QUEUE`` waiting
notifications is told to reconnect and catch up; a comment every
``SSE_KEEPALIVE`` seconds keeps idle proxies from cutting the stream. When the
lab ends the stream (its student was removed from a classroom), the last event
is ``end``, with the reason as JSON ``{"error": ..., "hint": ...}``.

``?until=N`` ends the stream after notification N; a reconnect whose
``Last-Event-ID`` is N or more is answered ``204 No Content``, the standard's way
to tell a browser's ``EventSource`` to stop reconnecting (lesson 03).
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from ..runtime.http import ending, json_error
from ..wire import sse
from .notifications import STORE_KEY, Notification, NotificationStore, user_of

__all__ = ["SSE_KEEPALIVE", "SSE_QUEUE", "add_routes", "stream_notifications"]

SSE_KEEPALIVE = 15.0
SSE_QUEUE = 1_000  # notifications waiting for one slow event-stream reader


def add_routes(app: web.Application, store: NotificationStore) -> None:
    """``GET /api/users/{user}/events`` on ``app`` (resume with ``Last-Event-ID``)."""
    app[STORE_KEY] = store
    app.router.add_get("/api/users/{user}/events", stream_notifications)


def where_to_start(request: web.Request) -> tuple[int, int | None]:
    """The stream's ``Last-Event-ID`` (0 for a first connection) and its ``?until=`` (None if not given),
    or a 400 that says what to send."""
    raw_last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id") or "0"
    try:
        last = int(raw_last)
    except ValueError:
        raise json_error(
            400,
            f"Last-Event-ID must be a notification id, not {raw_last!r}",
            "reconnect with the id of the last event you received",
        ) from None
    raw_until = request.query.get("until")
    try:
        until = int(raw_until) if raw_until is not None else None
        if until is not None and until < 1:
            raise ValueError
    except ValueError:
        raise json_error(
            400, f"until must be a notification id (1 or more), not {raw_until!r}", "send ?until=<id>, or leave it out"
        ) from None
    return last, until


async def stream_notifications(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one response that stays open; each notification is one event.

    A client that reconnects with ``Last-Event-ID: N`` first gets every
    notification after N that it missed.
    """
    user = user_of(request)
    last, until = where_to_start(request)
    if until is not None and last >= until:
        return web.Response(status=204)  # the client has all it asked for: an EventSource stops here
    store = request.app[STORE_KEY]
    end = ending(request)
    queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=SSE_QUEUE)
    overflow = []

    def listener(note: Notification) -> None:
        if note.user == user and not note.private:
            try:
                queue.put_nowait(note)
            except asyncio.QueueFull:  # a reader this slow resumes with Last-Event-ID instead
                overflow.append(note.id)

    # the missed ones first, then the live ones, in one step: nothing falls between, order kept
    for note in store.for_user(user, after=last):
        try:
            queue.put_nowait(note)
        except asyncio.QueueFull:  # more to catch up than one stream holds: the rest next time
            overflow.append(note.id)
            break
    # too much to catch up: this stream sends what fits, then asks for a reconnect; no live ones meanwhile
    unsubscribe = store.subscribe(listener) if not overflow else (lambda: None)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    getter: asyncio.Future | None = None  # the wait for the next notification, cancelled however the stream ends
    try:
        await response.prepare(request)
        # a stream that will end (?until=) asks for a quick reconnect: the one that gets its 204
        await response.write(sse.encode(retry=1000 if until is None else 200, comment=f"notifications of {user}"))
        sent = last
        while True:
            if overflow and queue.empty():
                await response.write(
                    sse.encode(comment="you read too slowly; reconnect with Last-Event-ID to catch up")
                )
                break
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, end}, timeout=SSE_KEEPALIVE, return_when=asyncio.FIRST_COMPLETED)
            if end.done():  # the lab ends this stream: say why, as its last event
                getter.cancel()
                why = end.result()
                await response.write(sse.encode(json.dumps({"error": why.error, "hint": why.hint}), event="end"))
                break
            if not getter.done():
                getter.cancel()
                await response.write(sse.encode(comment="keep-alive"))
                continue
            note = getter.result()
            if note.id <= sent:
                continue  # replayed and also heard live: send it once
            sent = note.id
            data = json.dumps({**note.to_json(), "t_sent": time.perf_counter()})
            await response.write(sse.encode(data, event="notification", id=note.id))
            if until is not None and note.id >= until:
                break  # the last one asked for: the browser reconnects, and gets 204
    except ConnectionResetError:
        pass  # the client went away: nothing more to send
    finally:
        if getter is not None:
            getter.cancel()  # else, dropped while pending, it prints "Task was destroyed" into a later cell
        unsubscribe()
    return response
