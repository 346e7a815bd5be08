"""Lesson 9's measurements on a cluster: who hears a notification, and how long it takes.

Both open real WebSockets through the cluster's balancer (so connections are
spread A, B, C, A, …) from a loop of their own, and make notifications on the
servers with :meth:`~duplexlab.cluster.cluster.Cluster.notify`.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import math
import threading
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect

from ..cluster.cluster import Cluster
from ..feedback import fit
from ..measure import Stats, summarize

__all__ = ["FanOut", "added_delay", "delivery_delays", "fan_out", "running_on"]


def running_on(cluster: Cluster) -> str:
    """One line: the servers a cell runs on and what joins them, e.g. "on 3 servers (A, B, C), no backplane"."""
    plane = f"joined by {cluster.backplane.kind}" if cluster.backplane is not None else "no backplane"
    return f"on {cluster.n} servers ({', '.join(cluster.names)}), {plane}"


@dataclass
class FanOut:
    """What each page heard: ``pages`` is (its server, the texts it got); ``made`` what each server created."""

    notes: int
    pages: list[tuple[str, list[str]]]
    made: dict[str, set[str]] = field(default_factory=dict)
    on: str = ""  # the cluster it ran on, in words (:func:`running_on`)

    @property
    def heard_all(self) -> int:
        """Pages that heard every notification."""
        return sum(len(got) == self.notes for _, got in self.pages)

    def by_server(self) -> dict[str, tuple[int, float]]:
        """For each server: how many pages it held, and how many notifications they got on average."""
        counts: dict[str, list[int]] = collections.defaultdict(list)
        for server, got in self.pages:
            counts[server].append(len(got))
        return {s: (len(c), sum(c) / len(c)) for s, c in sorted(counts.items())}

    def __str__(self) -> str:
        lines = [f"{self.on}:"] if self.on else []
        lines.append(f"{len(self.pages)} pages, {self.notes} notifications made round robin on the servers:")
        for server, (pages, mean) in self.by_server().items():
            own = len(self.made.get(server, ()))
            lines.append(
                f"  server {server}: {pages} pages, each got {mean:.0f} of {self.notes} ({own} were made on {server})"
            )
        lines.append(f"{self.heard_all} of {len(self.pages)} pages heard all {self.notes}")
        return fit("\n".join(lines))


async def _pages(cluster: Cluster, user: str, n: int) -> list:
    pages = []
    for _ in range(n):
        ws = await connect(f"{cluster.ws_url}/notifications/{user}", proxy=None, compression=None, max_queue=None)
        pages.append((ws, json.loads(await ws.recv())["server"]))
    return pages


async def _texts(ws, want: int, quiet: float) -> list[str]:
    got: list[str] = []
    while len(got) < want:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), quiet))
        except TimeoutError:
            break
        if message.get("type") == "notification":
            got.append(message["text"])
    return got


def fan_out(cluster: Cluster, *, pages: int = 30, notes: int = 30, user: str = "crowd", quiet: float = 1.0) -> FanOut:
    """``pages`` WebSockets on ``/notifications/<user>`` through the balancer; ``notes`` notifications made
    round robin on the servers; each page listens until ``quiet`` seconds pass without news."""
    made: dict[str, set[str]] = collections.defaultdict(set)

    async def run() -> list[tuple[str, list[str]]]:
        opened = await _pages(cluster, user, pages)

        def create() -> None:
            for i in range(notes):
                text = f"note {i}"
                made[cluster.notify(user, text, on=i % cluster.n)].add(text)

        try:
            await asyncio.get_running_loop().run_in_executor(None, create)
            heard = await asyncio.gather(*(_texts(ws, notes, quiet) for ws, _ in opened))
        finally:
            await asyncio.gather(*(ws.close() for ws, _ in opened), return_exceptions=True)
        return [(server, got) for (_, server), got in zip(opened, heard)]

    return FanOut(notes, _run(run()), dict(made), running_on(cluster))


def delivery_delays(cluster: Cluster, *, made_on: str, page_on: str, n: int = 20, user: str = "timer") -> Stats:
    """Milliseconds from asking server ``made_on`` to create a notification until a page on server
    ``page_on`` has it (the page connects to that server directly, around the balancer)."""

    async def run() -> list[float]:
        url = f"{cluster.server_url(page_on, ws=True)}/notifications/{user}"
        async with connect(url, proxy=None, compression=None) as ws:
            await ws.recv()  # subscribed
            delays = []
            loop = asyncio.get_running_loop()
            for i in range(n):
                text = f"tick {i}"
                t0 = time.perf_counter()
                await loop.run_in_executor(None, functools.partial(cluster.notify, user, text, on=made_on))
                while json.loads(await asyncio.wait_for(ws.recv(), 5)).get("text") != text:
                    pass
                delays.append((time.perf_counter() - t0) * 1000)
            return delays

    return summarize(_run(run()))


def added_delay(before: Stats, after: Stats) -> str:
    """What ``after`` adds to ``before`` (medians, in ms), in words a cell can print after "adds".

    Twenty tries on a busy laptop vary by a fraction of a millisecond. A difference inside that noise
    (twice the standard error of the two means) is no measurement, so it is not printed as one:
    "0.31 ms", or "nothing measurable (noise ±0.40 ms)" rather than a negative delay.
    """
    noise = 2 * math.sqrt(before.stdev**2 / before.n + after.stdev**2 / after.n)
    extra = after.median - before.median
    if extra <= noise:
        return f"nothing measurable (noise ±{noise:.2f} ms)"
    return f"{extra:.2f} ms"


def _run(coro):
    """Run ``coro`` on a loop of its own, on a thread of its own (a cell may already have a running loop)."""
    box: list = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            box.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, name="duplexlab-cluster-experiment")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box[0]
