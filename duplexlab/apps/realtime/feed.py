"""``/notifications/<user>``: the social app pushes each new notification of ``<user>`` as it is made.

``?after=N`` first sends those after id N (fetch, then subscribe), written in
the same step that subscribes the socket, so no notification falls between
"what you had" and "what is pushed", and none comes twice. A private
notification goes only to the user's authenticated ``/private/<user>`` sockets
(:mod:`~duplexlab.apps.realtime.private`), which this feed also serves. A client
may send ``{"type": "ping"}`` and gets a ``pong``.
"""

from __future__ import annotations

import functools
import json
import time

from websockets.asyncio.server import broadcast

from ..notifications import Notification, NotificationStore, valid_user
from .connection import RealtimeConnection, fan_out, incoming, send
from .messages import error, parse_message
from .records import ConnectionRecord
from .routes import Serve, Target

__all__ = ["Feed"]


class Feed:
    """Each user's notifications, pushed to every socket that follows them.

    Args:
        store: the notifications; call :meth:`push` for each new one (``store.subscribe(feed.push)``).
        server: in a cluster, this server's name, told to each client in its "subscribed" greeting.
        max_size: the largest message a client may send (1009 beyond).
    """

    def __init__(self, store: NotificationStore, *, server: str = "", max_size: int) -> None:
        self.store, self.server, self.max_size = store, server, max_size
        self.public: dict[str, dict[RealtimeConnection, ConnectionRecord]] = {}  # user -> their sockets
        self.private: dict[str, dict[RealtimeConnection, ConnectionRecord]] = {}  # user -> their /private/ sockets

    def open(self, target: Target) -> Serve:
        """Follow the user named in the path, from ``?after=N`` if given (400 for a bad name or number)."""
        valid_user(target.name)
        after = target.query.get("after", [None])[0]
        if after is not None and not after.isdigit():
            raise ValueError("connect to /notifications/<user>?after=<the last notification id you have>")
        return functools.partial(self.serve, user=target.name, after=None if after is None else int(after))

    def push(self, note: Notification) -> None:
        """Store listener: write the notification to every socket of its user at once."""
        groups = [self.private.get(note.user)]
        if not note.private:
            groups.append(self.public.get(note.user))
        text = None
        for subscribers in groups:
            if subscribers:
                text = text or json.dumps({"type": "notification", **note.to_json(), "t_sent": time.perf_counter()})
                fan_out(text, subscribers)

    async def serve(
        self,
        ws: RealtimeConnection,
        record: ConnectionRecord,
        *,
        user: str,
        private: bool = False,
        after: int | None = None,
    ) -> None:
        """Push ``user``'s notifications; with ``after``, first those after that id (the ones missed)."""
        channel = self.private if private else self.public
        hello: dict[str, object] = {"type": "subscribed", "user": user, "private": private}
        if self.server:
            hello["server"] = self.server
        await send(ws, record, json.dumps(hello))
        channel.setdefault(user, {})[ws] = record
        if after is not None:
            for note in self.store.for_user(user, after=after, private=private):
                replayed = {"type": "notification", **note.to_json(), "t_sent": time.perf_counter(), "replayed": True}
                text = json.dumps(replayed)
                broadcast([ws], text)  # at once: no await between subscribing and replaying
                record.count_sent(text)
        try:
            async for raw in incoming(ws, record, self.max_size):
                try:
                    parse_message(raw, types=("ping",))
                except ValueError as exc:
                    await send(ws, record, error(str(exc), 'this channel only pushes; you may send {"type": "ping"}'))
                    continue
                await send(ws, record, json.dumps({"type": "pong", "t": time.perf_counter()}))
        finally:
            subscribers = channel.get(user, {})
            subscribers.pop(ws, None)
            if not subscribers:
                channel.pop(user, None)
