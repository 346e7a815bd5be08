"""``/stream/<topic>?last=N``: numbered messages, and what a client missed while it was away.

Each :class:`Topic` numbers what is published on it and keeps the last
``TOPIC_BUFFER`` messages. A client that reconnects with the last number it saw
gets what it missed, or a ``gap`` message when that is no longer kept. The lab
keeps at most ``MAX_TOPICS`` topics (a new one replaces the oldest nobody
follows); a client that falls ``SEND_QUEUE`` messages behind is let go (1013).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import json
import re
import time

from .connection import RealtimeConnection, incoming, send
from .messages import error
from .records import ConnectionRecord
from .routes import Serve, Target

__all__ = ["MAX_TOPICS", "SEND_QUEUE", "TOPIC_BUFFER", "Stream", "Topic", "catch_up", "valid_topic"]

MAX_TOPICS = 100
TOPIC_BUFFER = 10_000
SEND_QUEUE = 20_000
TOPIC_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def valid_topic(name: str) -> str:
    """Return ``name`` if it is a valid topic name, else raise ``ValueError``."""
    if not isinstance(name, str) or not TOPIC_PATTERN.fullmatch(name):
        raise ValueError(f"topic names are 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-', not {name!r}")
    return name


class Topic:
    """Numbered messages on one topic, with the last ``buffer`` kept for replay.

    Not thread-safe on purpose: used on the lab's loop only.
    """

    def __init__(self, name: str, *, buffer: int = TOPIC_BUFFER) -> None:
        self.name = name
        self.seq = 0
        self.kept: collections.deque[tuple[int, str]] = collections.deque(maxlen=buffer)
        self.queues: set[asyncio.Queue] = set()

    @property
    def oldest(self) -> int:
        """The oldest number still kept (``seq + 1`` when nothing is kept)."""
        return self.kept[0][0] if self.kept else self.seq + 1

    def publish(self, data: object) -> int:
        self.seq += 1
        text = json.dumps(
            {"type": "message", "topic": self.name, "seq": self.seq, "data": data, "t": time.perf_counter()}
        )
        self.kept.append((self.seq, text))
        for queue in list(self.queues):
            queue.put_nowait(text)
        return self.seq


def catch_up(topic: Topic, last: int, *, server: str = "") -> list[str]:
    """What a client that saw up to ``last`` (-1: nothing yet) gets first: the greeting, a gap, then what it missed."""
    hello: dict[str, object] = {"type": "subscribed", "topic": topic.name, "latest": topic.seq, "oldest": topic.oldest}
    if server:
        hello["server"] = server
    first = [json.dumps(hello)]
    if last < 0:
        return first
    if last + 1 < topic.oldest:
        gap = {
            "type": "gap",
            "from": last + 1,
            "to": topic.oldest - 1,
            "error": f"messages {last + 1} to {topic.oldest - 1} are no longer kept "
            f"(the server keeps the last {topic.kept.maxlen})",
            "hint": f"reload the whole state, then follow from {topic.oldest}",
        }
        first.append(json.dumps(gap))
    return first + [text for seq, text in topic.kept if seq > last]


class Stream:
    """The ``/stream/<topic>`` channel and its topics."""

    def __init__(self, *, server: str = "", max_size: int) -> None:
        self.server, self.max_size = server, max_size
        self.topics: dict[str, Topic] = {}

    def topic(self, name: str) -> Topic:
        """The topic called ``name``, made if new (``ValueError`` past ``MAX_TOPICS`` or a bad name)."""
        if name not in self.topics:
            valid_topic(name)
            if len(self.topics) >= MAX_TOPICS:
                idle = [t for t in self.topics.values() if not t.queues]
                if not idle:
                    raise ValueError(f"the lab already keeps {MAX_TOPICS} topics, all in use; reuse one of them")
                del self.topics[idle[0].name]  # forget the oldest topic nobody follows
            self.topics[name] = Topic(name)
        return self.topics[name]

    def open(self, target: Target) -> Serve:
        """Follow the topic in the path from ``?last=N`` (400 without one, or for a bad name or too many topics)."""
        last = target.arg("last", "-1")
        if not target.name or not last.lstrip("-").isdigit():
            raise ValueError("connect to /stream/<topic>?last=<the last number you saw>")
        self.topic(target.name)
        return functools.partial(self.serve, name=target.name, last=int(last))

    async def serve(self, ws: RealtimeConnection, record: ConnectionRecord, *, name: str, last: int) -> None:
        topic = self.topic(name)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for text in catch_up(topic, last, server=self.server):
            queue.put_nowait(text)
        topic.queues.add(queue)  # no await since the replay: nothing published in between is lost
        # A server behind a cluster's shared log has not yet applied numbers the client already has:
        # its next live messages, up to `last`, are dropped here, never sent twice.
        stale = range(queue.qsize(), queue.qsize() + max(0, last - topic.seq))

        async def send_all() -> None:
            for n in itertools.count():
                if queue.qsize() > SEND_QUEUE:
                    await ws.close(1013, "you read too slowly; reconnect with ?last=<the last number you saw>")
                    return
                text = await queue.get()
                if n not in stale:
                    await send(ws, record, text)

        sender = asyncio.get_running_loop().create_task(send_all())
        try:
            async for _ in incoming(ws, record, self.max_size):
                await send(ws, record, error("this stream only sends", "reconnect with ?last=N to resume instead"))
        finally:
            topic.queues.discard(queue)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
