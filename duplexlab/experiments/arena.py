"""Side by side: the same events through polling, long polling, SSE and WebSockets at once.

Each transport gets a lab of its own (its own server thread), so the server
CPU time of each can be read off its thread; all clients run together on one
more loop thread. The same notifications are created in the four labs at the
same moments (random times at a chosen rate, with bursts), and every client
records when it learned of each one.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from ..clients.http import AsyncClient
from ..feedback import Feedback, fit
from ..lab import Lab
from ..measure import percentile
from ..runtime.loop import LoopThread, raise_open_file_limit
from ..runtime.owner import shared_owner
from ..tap import Tap
from .seeds import default_seed

__all__ = [
    "EVENTS_START",
    "TRANSPORTS",
    "Arena",
    "ArenaResult",
    "TransportResult",
    "event_times",
    "thread_cpu",
]

TRANSPORTS = ("polling", "long polling", "SSE", "WebSocket")
EVENTS_START = 0.2  # seconds into a run before the first event may come (clients settle)
USER = "feed"


def thread_cpu(thread_id: int | None) -> float:
    """CPU seconds used so far by the thread with this ``threading`` ident (Unix)."""
    if thread_id is None:
        raise ValueError("the thread has not started: start the lab first")
    return time.clock_gettime(time.pthread_getcpuclockid(thread_id))


def event_times(
    rate: float,
    duration: float,
    *,
    burstiness: float = 1.0,
    rng: random.Random | None = None,
    start: float = EVENTS_START,
) -> list[float]:
    """Random event times in ``[start, duration)``: ``rate`` per second on average.

    ``burstiness`` b ≥ 1 groups events into bursts of b on average (bursts come
    b times less often, events within a burst 5 ms apart); 1 means independent
    events (a Poisson process).
    """
    if rate <= 0 or duration <= start:
        return []
    if burstiness < 1:
        raise ValueError(f"burstiness is 1 or more, not {burstiness}")
    rng = rng or random.Random()
    times: list[float] = []
    t = start
    while True:
        t += rng.expovariate(rate / burstiness)
        if t >= duration:
            return times
        size = 1 + (_poisson(rng, burstiness - 1) if burstiness > 1 else 0)
        times += [t + 0.005 * i for i in range(size) if t + 0.005 * i < duration]


def _poisson(rng: random.Random, mean: float) -> int:
    k, p, limit = 0, 1.0, pow(2.718281828459045, -mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class TransportResult:
    """What one transport cost and delivered in one run."""

    name: str
    clients: int
    events: int
    delays: list[float] = field(default_factory=list)
    requests: int = 0
    bytes_total: int = 0
    header_bytes: int = 0
    payload_bytes: int = 0
    cpu_seconds: float = 0.0
    seconds: float = 0.0
    opening_requests: int = 0  # made before the run started (an SSE stream's or a WebSocket's one request)

    @property
    def requests_during(self) -> int:
        """Requests sent while the run went on (the opening ones left out)."""
        return self.requests - self.opening_requests

    @property
    def deliveries(self) -> int:
        return len(self.delays)

    @property
    def delivered_share(self) -> float:
        expected = self.events * self.clients
        return self.deliveries / expected if expected else 1.0

    @property
    def requests_per_event(self) -> float:
        return self.requests / self.deliveries if self.deliveries else float("nan")

    @property
    def bytes_per_event(self) -> float:
        return self.bytes_total / self.deliveries if self.deliveries else float("nan")

    @property
    def cpu_per_second(self) -> float:
        """Server CPU seconds per second of experiment (1.0 = one core busy)."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    def delay_ms(self, q: float = 50) -> float:
        return percentile(self.delays, q) * 1000 if self.delays else float("nan")

    def __str__(self) -> str:
        """Two lines under 100 columns: the delays, then what the transport cost."""
        wire = f"{self.bytes_per_event:.0f} bytes/event" if self.bytes_total else "(bytes not tapped)"
        return fit(
            f"{self.name}: delay median {self.delay_ms(50):.1f} ms, p99 {self.delay_ms(99):.1f} ms, "
            f"delivered {self.delivered_share:.0%}\n"
            f"  {self.requests_per_event:.2f} requests/event, {wire}, "
            f"server CPU {self.cpu_per_second * 1000:.2f} ms/s"
        )


@dataclass
class ArenaResult:
    """One side-by-side run: the settings, the event times, and each transport's result."""

    rate: float
    burstiness: float
    duration: float
    poll_interval: float
    clients: int
    event_times: list[float]
    results: dict[str, TransportResult]
    seed: int | None = None
    run: int = 0  # which run of a widget this is (1, 2, …); 0: a run no widget showed

    def heading(self) -> str:
        """One line that names this run, as a widget's status does: "run 1: 52 events (seed 2026), …"."""
        named = f"run {self.run}: " if self.run else ""
        bursts = f", {self.burstiness:g} per burst" if self.burstiness != 1 else ""
        clients = f", {self.clients} clients per transport" if self.clients != 1 else ""
        return (
            f"{named}{len(self.event_times)} events (seed {self.seed}), {self.rate:g} a second for "
            f"{self.duration:g} s{bursts}, polling every {self.poll_interval:g} s{clients}"
        )

    def claims(self) -> Feedback:
        """The lesson's claims about this run, each checked: ✓, or what happened instead and why.

        Printed, a line per claim (wrapped between words past 100 columns); as a cell's value, each
        mark boxed in its colour."""
        lines = []
        polling = self.results.get("polling")
        if polling is not None and polling.delays:
            half = self.poll_interval / 2 * 1000
            median = polling.delay_ms(50)
            if abs(median - half) <= 0.25 * half:
                lines.append(
                    f"✓ polling waited about half an interval: median {median:.0f} ms, "
                    f"interval/2 = {half:.0f} ms ({polling.deliveries} events)"
                )
            else:
                lines.append(
                    f"✗ polling's median delay was {median:.0f} ms, not about {half:.0f} ms: "
                    f"with {polling.deliveries} events, where they fell between polls decides it; "
                    "a longer run (more events) comes closer"
                )
        pushed = {n: r for n, r in self.results.items() if n != "polling" and r.delays}
        if pushed:
            slowest = max(r.delay_ms(50) for r in pushed.values())
            shown = ", ".join(f"{n} {r.delay_ms(50):.1f} ms" for n, r in pushed.items())
            if polling is not None and polling.delays and slowest * 10 < polling.delay_ms(50):
                lines.append(f"✓ the pushed transports delivered at once (medians: {shown})")
            elif polling is not None and polling.delays:
                lines.append(
                    f"✗ a pushed transport was slow this time (medians: {shown}): the machine was busy; run it again"
                )
        for name in ("SSE", "WebSocket"):
            r = self.results.get(name)
            if r is not None and r.deliveries:
                lines.append(
                    f"{'✓' if r.requests_during == 0 else '✗'} {name} sent {r.requests_during} "
                    f"request(s) during the run, after the {r.opening_requests} that opened it"
                )
        return Feedback("\n".join(lines))

    def classroom_claims(self) -> Feedback:
        """The classroom's claims about this run of N clients, each checked: ✓, or what happened instead
        (printed or shown as :meth:`claims`)."""
        n, lines = self.clients, []
        polling = self.results.get("polling")
        if polling is not None and polling.seconds:
            per_s, want = polling.requests_during / polling.seconds, n / self.poll_interval
            ok = abs(per_s - want) <= 0.3 * want
            lines.append(
                f"{'✓' if ok else '✗'} polling: {per_s:.0f} requests/s from {n} clients (N / interval = "
                f"{want:.0f}/s), news or not" + ("" if ok else ": the run was too short to average")
            )
        long_polling = self.results.get("long polling")
        if long_polling is not None and long_polling.deliveries:
            each = long_polling.requests_during / max(1, long_polling.deliveries)
            lines.append(
                f"{'✓' if each >= 0.8 else '✗'} long polling: {long_polling.requests_during} requests for "
                f"{long_polling.deliveries} deliveries ({each:.2f} per client per event)"
                + (
                    ""
                    if each >= 0.8
                    else ": the clients were slow to ask again (a busy machine), so answers carried several events"
                )
            )
        for name in ("SSE", "WebSocket"):
            r = self.results.get(name)
            if r is not None:
                lines.append(
                    f"{'✓' if r.requests_during == 0 else '✗'} {name}: {r.requests_during} requests during "
                    f"the run; {r.opening_requests} opened the streams before it"
                )
        return Feedback("\n".join(lines))

    def compare_bursts(self, bursty: ArenaResult) -> Feedback:
        """What bursts changed, against this run: each claim checked, ✓ or what happened instead
        (printed or shown as :meth:`claims`)."""
        lines = []
        for name in ("polling", "long polling"):
            before, after = self.results.get(name), bursty.results.get(name)
            if before is None or after is None or not before.deliveries or not after.deliveries:
                continue
            lines.append(
                f"{name:<13} requests per event: {before.requests_per_event:.2f} → {after.requests_per_event:.2f}"
            )
        poll_b, poll_a = self.results.get("polling"), bursty.results.get("polling")
        if poll_b and poll_a and poll_b.deliveries and poll_a.deliveries:
            # on a clock: each client asks once per interval while the run lasts (±1 for where it started)
            fits = [abs(r.requests / r.clients - r.seconds / self.poll_interval) <= 1.0 for r in (poll_b, poll_a)]
            shown = (
                f"polling asked {poll_b.requests / poll_b.clients:.0f} times in {poll_b.seconds:.1f} s, then "
                f"{poll_a.requests / poll_a.clients:.0f} times in {poll_a.seconds:.1f} s"
            )
            lines.append(
                f"✓ {shown}: once per {self.poll_interval:g} s both times, the clock decides, not the events"
                if all(fits)
                else f"✗ {shown}: not once per {self.poll_interval:g} s; the machine was too busy to keep time"
            )
        long_a = bursty.results.get("long polling")
        if long_a is not None and long_a.deliveries:
            each = long_a.requests_per_event
            lines.append(
                f"{'✓' if each >= 0.8 else '✗'} long polling still paid {each:.2f} exchanges per event "
                + (
                    "in bursts: a burst's events come 5 ms apart, and it asks again within a millisecond"
                    if each >= 0.8
                    else "in bursts: some answers carried several events (the machine was slow to ask again)"
                )
            )
        return Feedback("\n".join(lines))

    def table(self) -> str:
        """The run's :meth:`heading`, then one row per transport, narrow enough for a projector
        (under 90 columns)."""
        rows = [
            self.heading(),
            f"{'':<13} {'delay p50':>10} {'p99':>8} {'req/event':>10} {'bytes/event':>12} "
            f"{'CPU ms/s':>9} {'delivered':>10}",
        ]
        for r in self.results.values():
            wire = f"{r.bytes_per_event:12.0f}" if r.bytes_total else f"{'(no tap)':>12}"
            rows.append(
                f"{r.name:<13} {r.delay_ms(50):7.1f} ms {r.delay_ms(99):5.0f} ms "
                f"{r.requests_per_event:10.2f} {wire} {r.cpu_per_second * 1000:9.2f} "
                f"{r.delivered_share:10.0%}"
            )
        return "\n".join(rows)


class Arena:
    """Four labs (one per transport) and a client thread, for side-by-side runs.

    Example::

        with dl.Arena() as arena:
            result = arena.run(rate=2, duration=3, poll_interval=1)
        print(result.table())
    """

    _shared: ClassVar[Arena | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.labs: dict[str, Lab] = {}
        self.clients = LoopThread(name="duplexlab-arena-clients")

    @classmethod
    def shared(cls) -> Arena:
        """The notebook's arena, started: the same one each time the cell runs.

        Re-running ``arena = dl.Arena.shared()`` starts no second set of four labs;
        after ``dl.stop()`` it starts the same arena again.
        """
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared.start()

    def start(self) -> Arena:
        if not self.labs:
            raise_open_file_limit()
            for name in TRANSPORTS:
                self.labs[name] = Lab().start()
            self.clients.start()
            shared_owner().own(self)  # dl.stop() closes it too (a widget reopens it at its next use)
        return self

    @property
    def closed(self) -> bool:
        return not self.labs

    def close(self) -> None:
        """Stop the four labs and the client thread. Twice is harmless."""
        shared_owner().release(self)
        self.clients.close()
        for lab in self.labs.values():
            lab.close()
        self.labs.clear()

    def __enter__(self) -> Arena:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        *,
        rate: float = 2.0,
        burstiness: float = 1.0,
        duration: float = 3.0,
        poll_interval: float = 1.0,
        clients: int = 1,
        transports: tuple[str, ...] = TRANSPORTS,
        tap: bool = True,
        seed: int | None = None,
        min_events: int = 1,
        on_progress: Callable[[float], None] | None = None,
    ) -> ArenaResult:
        """Create events for ``duration`` s and deliver them through the transports at once.

        Every client connects first; the clock (and the events) start once all
        are ready, so connection set-up is not counted as delay.

        Args:
            rate: events per second, on average.
            burstiness: average events per burst (1 = independent events).
            poll_interval: the polling clients' interval.
            clients: clients per transport (a classroom).
            transports: which of :data:`TRANSPORTS` to run.
            tap: count bytes with a tap per transport (costs client-side time).
            seed: the random draws' seed (None: the course's default, ``DUPLEXLAB_SEED`` or 2026), so a
                run repeats; pass another number for other events.
            min_events: draw the random events again until there are at least this many
                (a short run with bursts can have none, and then measures nothing).
            on_progress: called with the fraction done, about ten times a second.
        """
        self.start()
        options = dict(
            rate=rate,
            burstiness=burstiness,
            duration=duration,
            poll_interval=poll_interval,
            clients=clients,
            transports=transports,
            tap=tap,
            seed=seed,
            min_events=min_events,
            on_progress=on_progress,
        )
        return self.clients.run(self.arun(**options), duration + poll_interval + 90)

    async def arun(
        self,
        *,
        rate,
        burstiness,
        duration,
        poll_interval,
        clients,
        transports,
        tap,
        seed=None,
        min_events=1,
        on_progress=None,
    ) -> ArenaResult:
        """:meth:`run`, as a coroutine on the arena's client loop (``arena.clients``)."""
        unknown = set(transports) - set(TRANSPORTS)
        if unknown:
            raise ValueError(f"unknown transport(s) {sorted(unknown)}; choose from {TRANSPORTS}")
        seed = default_seed() if seed is None else seed
        rng = random.Random(seed)
        times = event_times(rate, duration, burstiness=burstiness, rng=rng)
        for _ in range(1000):  # at these rates a draw with min_events comes within a few tries
            if len(times) >= min_events:
                break
            times = event_times(rate, duration, burstiness=burstiness, rng=rng)
        for lab in self.labs.values():
            lab.call_soon(lab.notifications.clear)
        phases = [rng.uniform(0, poll_interval) for _ in range(clients)]  # when each polling client starts
        found = await self._all(times, duration, poll_interval, clients, transports, tap, on_progress, phases)
        return ArenaResult(rate, burstiness, duration, poll_interval, clients, times, found, seed)

    async def _all(self, times, duration, interval, clients, transports, use_tap, on_progress, phases):
        loop = asyncio.get_running_loop()
        taps: dict[str, Tap] = {}
        bases: dict[str, str] = {}
        for name in transports:
            lab = self.labs[name]
            target = lab.ws_url if name == "WebSocket" else lab.url
            if use_tap:
                taps[name] = await Tap(target).start()
                bases[name] = taps[name].url
            else:
                bases[name] = target
        results = {name: TransportResult(name, clients, len(times)) for name in transports}
        runners = {
            "polling": self._polling,
            "long polling": self._long_polling,
            "SSE": self._sse,
            "WebSocket": self._websocket,
        }
        go = _Start(len(transports) * clients)
        tasks = [
            loop.create_task(runners[name](bases[name], interval, results[name], go, phases[k]))
            for name in transports
            for k in range(clients)
        ]
        ticker = None
        try:
            await go.all_ready(timeout=60)
            # time after the last event for it to reach every client (more clients, more time)
            grace = 0.3 + 0.001 * clients + (interval if "polling" in transports else 0.0)
            cpu0 = {n: thread_cpu(self.labs[n].loop.ident) for n in transports}
            t0 = time.perf_counter()
            for name in transports:
                for k, at in enumerate(times):
                    self.labs[name].schedule(at, USER, f"event {k}")
            go.begin(t0 + duration + grace)
            ticker = loop.create_task(self._tick(on_progress, t0, go.end))
            pending = await self._until_done(tasks, results, times, t0, duration, go.end)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            elapsed = time.perf_counter() - t0
            for name in transports:
                results[name].cpu_seconds = thread_cpu(self.labs[name].loop.ident) - cpu0[name]
                results[name].seconds = elapsed
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if ticker is not None:
                ticker.cancel()
            for name, t in taps.items():
                await t.aclose()
                counts = t.counts()
                r = results[name]
                r.bytes_total = counts.bytes_total
                r.header_bytes = counts.header_bytes + counts.frame_header_bytes_up + counts.frame_header_bytes_down
                r.payload_bytes = counts.body_bytes + counts.frame_payload_bytes_up + counts.frame_payload_bytes_down
        return results

    @staticmethod
    async def _until_done(tasks, results, times, t0, duration, end) -> set:
        """Wait for the clients; the run ends once every event reached every client.

        That is at ``duration`` or at the last delivery, whichever is later
        (polling's last delivery comes up to an interval after the last event;
        the pushed transports' within milliseconds), and at the latest at
        ``end`` (the grace after ``duration``), so a lost event can't stall it.
        """
        pending = set(tasks)
        last_event = t0 + (times[-1] if times else 0.0)
        while pending and (now := time.perf_counter()) < end + 5:
            _, pending = await asyncio.wait(pending, timeout=0.02)
            if now >= max(last_event, t0 + duration) and all(
                r.deliveries >= r.events * r.clients for r in results.values()
            ):
                break
        return pending

    @staticmethod
    async def _tick(on_progress, t0, end) -> None:
        if on_progress is None:
            return
        while True:
            on_progress(min(1.0, (time.perf_counter() - t0) / (end - t0)))
            await asyncio.sleep(0.1)

    @staticmethod
    def _learn(result: TransportResult, notes, t: float) -> None:
        for note in notes:
            result.delays.append(t - note["t"])

    async def _polling(self, base, interval, result, go, phase) -> None:
        async with AsyncClient(base) as client:
            await go.ready()
            after = 0
            next_at = time.perf_counter() + phase
            while True:
                # never sleep past the end: a poll due after it would never be sent
                await asyncio.sleep(max(0.0, min(next_at, go.end) - time.perf_counter()))
                if time.perf_counter() >= go.end:
                    return
                reply = await client.get(f"/api/users/{USER}/notifications", params={"after": after})
                result.requests += 1
                data = reply.json()
                self._learn(result, data["notifications"], reply.t_done)
                after = data["last_id"]
                next_at += interval

    async def _long_polling(self, base, interval, result, go, phase) -> None:
        async with AsyncClient(base, timeout=60) as client:
            await go.ready()
            after = 0
            while (left := go.end - time.perf_counter()) > 0:
                reply = await client.get(
                    f"/api/users/{USER}/notifications/wait", params={"after": after, "timeout": f"{min(left, 25):.3f}"}
                )
                result.requests += 1
                data = reply.json()
                self._learn(result, data["notifications"], reply.t_done)
                after = data["last_id"]

    async def _sse(self, base, interval, result, go, phase) -> None:
        async with AsyncClient(base) as client:
            result.requests += 1
            result.opening_requests += 1
            stream = client.iter_events(f"/api/users/{USER}/events", on_open=go.ready_nowait)

            async def read() -> None:
                async for item in stream:
                    self._learn(result, [item.json()], item.t)

            reader = asyncio.get_running_loop().create_task(read())
            await go.started()
            try:
                await asyncio.wait_for(reader, max(0.0, go.end - time.perf_counter()))
            except TimeoutError:
                pass

    async def _websocket(self, base, interval, result, go, phase) -> None:
        async with ws_connect(f"{base}/notifications/{USER}", proxy=None, compression=None, open_timeout=60) as ws:
            result.requests += 1
            result.opening_requests += 1
            await ws.recv()  # "subscribed"
            await go.ready()
            try:
                while (left := go.end - time.perf_counter()) > 0:
                    raw = await asyncio.wait_for(ws.recv(), left)
                    t = time.perf_counter()
                    message = json.loads(raw)
                    if message["type"] == "notification":
                        self._learn(result, [message], t)
            except (TimeoutError, ConnectionClosed):
                pass


class _Start:
    """A starting line: clients report ready, then all start together."""

    def __init__(self, total: int) -> None:
        self.total, self.count = total, 0
        self.end = float("inf")
        self._all_ready = asyncio.Event()
        self._go = asyncio.Event()

    def ready_nowait(self) -> None:
        self.count += 1
        if self.count >= self.total:
            self._all_ready.set()

    async def ready(self) -> None:
        self.ready_nowait()
        await self._go.wait()

    async def started(self) -> None:
        await self._go.wait()

    async def all_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._all_ready.wait(), timeout)
        except TimeoutError:
            pass  # start with those that made it

    def begin(self, end: float) -> None:
        self.end = end
        self._go.set()
