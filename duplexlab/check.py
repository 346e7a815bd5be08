"""Checks for the exercises: call one with your function; it says ✓ or what is wrong.

Each check runs your function against the real lab (started with ``dl.start()``)
and returns a :class:`Result`: ✓ with what was checked, or ✗ with a message you
can act on. It never stops "Run All"; ``result.raise_if_failed()`` raises
:class:`~duplexlab.errors.CheckFailed` where you want a hard stop.
"""

from __future__ import annotations

import functools
import itertools
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

from .arena import EVENTS_START, Arena
from .capture import Capture
from .errors import CheckFailed
from .lab import current

__all__ = [
    "Result",
    "accept_key",
    "backoff_poll",
    "backoff_wait",
    "cheapest",
    "expected_wasted",
    "fetch_new",
    "frame_overhead",
    "header_share",
    "keepalive_deadline",
    "event_data",
    "lifecycle",
    "long_poll_loop",
    "masking",
    "no_sockets_left",
    "polls_per_event",
    "unread_badge",
]

_users = itertools.count(1)


@dataclass(frozen=True)
class Result:
    """What a check found: ``passed``, and a message for the learner."""

    name: str
    passed: bool
    message: str

    def raise_if_failed(self) -> Result:
        if not self.passed:
            raise CheckFailed(f"{self.name}: {self.message}")
        return self

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.name}: {self.message}"

    def __repr__(self) -> str:
        return str(self)


def _fail(message: str) -> CheckFailed:
    return CheckFailed(message)


def _stub() -> None:
    ...  # the exercises' stubs: a body of `...` and nothing else


def _is_stub(fn: object) -> bool:
    """Whether ``fn`` is an exercise's untouched stub (its body is only ``...``)."""
    code = getattr(fn, "__code__", None)
    return (isinstance(fn, types.FunctionType) and fn.__name__ != "<lambda>" and code is not None
            and code.co_code == _stub.__code__.co_code)


def _check(fn: Callable[..., str]) -> Callable[..., Result]:
    """Turn a check that raises CheckFailed into one that returns a Result."""

    @functools.wraps(fn)
    def run(*args, **kwargs) -> Result:
        if args and _is_stub(args[0]):
            return Result(fn.__name__, False,
                          "not attempted yet: replace the `...` with your code, then run the cell again")
        try:
            return Result(fn.__name__, True, fn(*args, **kwargs))
        except CheckFailed as exc:
            return Result(fn.__name__, False, str(exc))
        except Exception as exc:  # the learner's function raised: say so, keep going
            return Result(
                fn.__name__, False, f"your function raised {type(exc).__name__}: {exc}"
            )

    return run


@_check
def fetch_new(fn: Callable) -> str:
    """Lesson 1: ``fn(client, user, after)`` returns the user's notifications newer than ``after``.

    It must make exactly one GET (one request, one response) and return the
    list of notification dicts that the server sent, oldest first.
    """
    lab = current()
    user = f"check-{next(_users)}"
    client = lab.client()
    ids = [lab.notify(user, f"note {i}").id for i in range(3)]
    for after, expected in ((0, ids), (ids[1], ids[2:]), (ids[2], [])):
        before = len(client.history)
        got = fn(client, user, after)
        made = len(client.history) - before
        if made != 1:
            raise _fail(f"fn(client, {user!r}, {after}) made {made} requests; one GET is enough")
        if not isinstance(got, list):
            raise _fail(f"fn should return a list of notifications, got {type(got).__name__}")
        got_ids = [n.get("id") if isinstance(n, dict) else n for n in got]
        if got_ids != expected:
            raise _fail(
                f"with after={after} the user has notifications {expected} newer than it, "
                f"your function returned ids {got_ids}; pass after as the 'after' query parameter"
            )
    return "fetch_new works: one request, and only the new notifications."


@_check
def header_share(fn: Callable[[bytes], float]) -> str:
    """Lesson 1: ``fn(raw)`` gives the fraction of an HTTP message's bytes that are headers.

    ``raw`` is one whole message exactly as it crossed the wire; the headers are
    the start line and header lines up to and including the blank line.
    """
    lab = current()
    tap = lab.tap()
    try:
        client = lab.client(tap.url)
        client.get("/api/health")
        client.get(f"/api/users/check-{next(_users)}/notifications")
        client.post("/api/users/check-share/notifications", json={"text": "x" * 500})
        capture: Capture = tap.capture()
    finally:
        tap.close()
    messages = capture.http_messages()
    for m in messages:
        stream = capture.stream(m.conn, m.direction)
        start = stream.find(m.start_line.encode("latin-1"))
        raw = stream[start : start + m.wire_bytes]
        expected = m.header_bytes / m.wire_bytes
        got = fn(raw)
        if not isinstance(got, (int, float)) or abs(got - expected) > 1e-9:
            raise _fail(
                f"for the {len(raw)}-byte message starting {m.start_line!r} the header share is "
                f"{m.header_bytes}/{m.wire_bytes} = {expected:.4f}; your function said {got!r}. "
                "Headers end at the first b'\\r\\n\\r\\n' (count those 4 bytes as header)."
            )
    return f"header_share works on {len(messages)} real messages."


def _submit(client, queue_delay: float) -> str:
    reply = client.post("/api/judge/submissions", json={"code": "print(42)", "queue_delay": queue_delay})
    return reply.json()["poll"]


@_check
def backoff_poll(fn: Callable) -> str:
    """Lesson 2: ``fn(client, url, first=, factor=, deadline=)`` polls with exponential backoff.

    It returns the judge's final answer (a dict with status "done"), or ``None``
    once ``deadline`` seconds have passed; the gaps between its requests start
    at ``first`` and grow by ``factor`` each time.
    """
    lab = current()
    client = lab.client()
    url = _submit(client, 1.0)
    before = len(client.history)
    answer = fn(client, url, first=0.1, factor=2.0, deadline=5.0)
    sent = [r.t_sent for r in client.history[before:]]
    if not isinstance(answer, dict) or answer.get("status") != "done":
        raise _fail(f"for a 1 s judgement fn should return the answer with status 'done', got {answer!r}")
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    if len(sent) > 7:
        raise _fail(f"it sent {len(sent)} requests for a 1 s judgement; with gaps 0.1, 0.2, 0.4, 0.8 s about 5 are enough")
    for i, gap in enumerate(gaps[:3]):
        want = 0.1 * 2**i
        if not want * 0.8 <= gap <= want + 0.15:
            raise _fail(
                f"gap {i + 1} between requests was {gap:.3f} s; with first=0.1 and factor=2 it should be "
                f"about {want:g} s (gaps so far: {', '.join(f'{g:.2f}' for g in gaps)})"
            )
    url = _submit(client, 3.0)
    t0 = time.perf_counter()
    late = fn(client, url, first=0.1, factor=2.0, deadline=0.5)
    took = time.perf_counter() - t0
    if late is not None:
        raise _fail(f"with deadline=0.5 and a 3 s judgement fn should give up and return None, got {late!r}")
    if took > 0.5 + 0.8:
        raise _fail(f"with deadline=0.5 it took {took:.2f} s to give up; stop once the deadline has passed")
    return f"backoff_poll works: {len(sent)} requests, gaps {', '.join(f'{g:.2f}' for g in gaps)} s; gives up at the deadline."


@_check
def expected_wasted(fn: Callable[[float, float], int]) -> str:
    """Lesson 2: ``fn(judge_seconds, interval)``: wasted polls of a poll that starts at 0.

    Polls leave at 0, interval, 2 x interval, ...; the result is ready at
    ``judge_seconds``; every poll before the first one at or after it is wasted.
    """
    from .polling import expected_polls

    cases = [(7, 1), (7, 2), (6.5, 0.5), (0.05, 1), (3, 0.25), (10, 3)]
    for judge, interval in cases:
        want = expected_polls(judge, interval) - 1
        got = fn(judge, interval)
        if got != want:
            raise _fail(
                f"fn({judge}, {interval}) returned {got!r}; polls leave at 0, {interval}, "
                f"{2 * interval:g}, ... and the result is ready at {judge}, so {want} polls say 'not yet'"
            )
    lab = current()
    client = lab.client()
    run = client.poll(_submit(client, 0.6), interval=0.3)
    ready_after = run.done.json()["t_ready"] - run.t_start
    predicted = fn(ready_after, 0.3)
    if predicted != run.wasted:
        raise _fail(f"a real run (ready after {ready_after:.2f} s, polling every 0.3 s) wasted "
                    f"{run.wasted} polls; your function predicted {predicted}")
    return f"expected_wasted works, and matched a real run: {run.wasted} wasted polls."


@_check
def no_sockets_left(lab=None) -> str:
    """Every WebSocket to the lab is closed (a page that unmounted left nothing open)."""
    lab = lab or current()
    owned = [r for r in lab.websockets.open_connections if r.owner]
    still = [r for r in lab.websockets.open_connections if not r.owner]
    if still:
        now = time.perf_counter()
        listed = "; ".join(f"{r.path} (open {now - r.t_open:.1f} s)" for r in still)
        raise _fail(f"{len(still)} WebSocket(s) still open: {listed}. Close them (ws.close()) "
                    "or leave the `with` block that opened them")
    if owned:
        return (f"no WebSocket is left open by a cell; {len(owned)} belong(s) to widgets still "
                "showing (" + "; ".join(r.owner for r in owned) + ") and close when their output "
                "is cleared.")
    return f"no WebSocket is open ({len(lab.websockets.records)} were opened and closed)."


@_check
def lifecycle(mount: Callable, unmount: Callable) -> str:
    """Lesson 5: ``mount(lab, user)`` opens a socket to /notifications/<user>; ``unmount(handle)`` closes it."""
    lab = current()
    user = f"life-{next(_users)}"
    path = f"/notifications/{user}"
    before = {r.id for r in lab.websockets.records}
    handle = mount(lab, user)
    deadline = time.perf_counter() + 2
    while not [r for r in lab.websockets.records if r.id not in before and r.path == path]:
        if time.perf_counter() > deadline:
            raise _fail(f"after mount(lab, {user!r}) no WebSocket was opened to {path}")
        time.sleep(0.01)
    unmount(handle)
    mine = [r for r in lab.websockets.records if r.id not in before and r.path == path]
    deadline = time.perf_counter() + 2
    while any(r.open for r in mine):
        if time.perf_counter() > deadline:
            raise _fail("after unmount(handle) the socket is still open; close it")
        time.sleep(0.01)
    if len(mine) != 1:
        raise _fail(f"mount opened {len(mine)} sockets; one is enough")
    if mine[0].close_code != 1000:
        raise _fail(f"the socket closed with code {mine[0].close_code}; close it normally (1000)")
    return "mount opens exactly one socket, unmount closes it with 1000."


@_check
def accept_key(fn: Callable[[str], str]) -> str:
    """Lesson 4: ``fn(key)`` computes Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    import base64
    import os

    from websockets.utils import accept_key as reference

    cases = ["dGhlIHNhbXBsZSBub25jZQ=="] + [base64.b64encode(os.urandom(16)).decode() for _ in range(5)]
    for key in cases:
        got, want = fn(key), reference(key)
        if got != want:
            raise _fail(f"for key {key!r} the answer is {want!r}, yours was {got!r}; "
                        "base64 of SHA-1 of (key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)")
    return f"accept_key matches RFC 6455 (and {len(cases) - 1} random keys)."


@_check
def frame_overhead(fn: Callable[[int, bool], int]) -> str:
    """Lesson 4: ``fn(payload_length, masked)`` is a frame's header size in bytes."""
    from websockets.frames import Frame, Opcode

    for n in (0, 5, 125, 126, 1000, 65535, 65536, 100_000):
        for masked in (True, False):
            wire = Frame(Opcode.BINARY, b"x" * n).serialize(mask=masked)
            want = len(wire) - n
            got = fn(n, masked)
            if got != want:
                who = "client (masked)" if masked else "server (unmasked)"
                raise _fail(f"a {who} frame with {n} payload bytes has {want} header bytes; you said {got!r}")
    return "frame_overhead matches real frames from 0 to 100,000 bytes."


@_check
def masking(fn: Callable[[bytes, bytes], bytes]) -> str:
    """Lesson 4: ``fn(payload, key)`` masks (and unmasks) a payload with a 4-byte key."""
    import os

    from websockets.frames import Frame, Opcode

    for n in (0, 1, 4, 5, 17, 1000):
        payload, key = os.urandom(n), os.urandom(4)
        got = fn(payload, key)
        if not isinstance(got, (bytes, bytearray)):
            raise _fail(f"fn should return bytes, got {type(got).__name__}")
        want = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        if got != want:
            raise _fail(f"masking {n} bytes with key {key.hex()} gave {bytes(got)[:8].hex()}…, "
                        f"expected {want[:8].hex()}…: byte i is XORed with key[i % 4]")
        if fn(got, key) != payload:
            raise _fail("masking twice with the same key must give the payload back")
    wire = Frame(Opcode.TEXT, b"hello").serialize(mask=True)
    if fn(wire[6:], wire[2:6]) != b"hello":
        raise _fail("unmasking a real client frame did not give b'hello' back")
    return "masking works, and unmasks a real client frame."


@_check
def unread_badge(fn: Callable) -> str:
    """Lesson 5: ``fn(ws, seconds)`` listens on a notifications socket and counts what arrives.

    It returns how many ``notification`` messages arrived within ``seconds``
    (other message types do not count), without sending any request.
    """
    lab = current()
    user = f"badge-{next(_users)}"
    ws = lab.connect(f"/notifications/{user}")
    try:
        for delay in (0.1, 0.3, 0.5):
            lab.schedule(delay, user, f"pushed at {delay} s")
        lab.schedule(1.6, user, "too late for the badge")
        t0 = time.perf_counter()
        got = fn(ws, 1.0)
        took = time.perf_counter() - t0
    finally:
        ws.close()
    if got != 3:
        raise _fail(f"3 notifications arrived within 1 s (after a 'subscribed' message); your function counted {got!r}")
    if not 0.9 <= took <= 1.4:
        raise _fail(f"fn(ws, 1.0) took {took:.2f} s; listen for about 1 s, then return the count")
    return "unread_badge counts exactly the pushed notifications."


@_check
def long_poll_loop(fn: Callable) -> str:
    """Lesson 3: ``fn(client, user, n)`` long-polls until it has ``n`` notifications; returns them."""
    lab = current()
    user = f"long-{next(_users)}"
    client = lab.client()
    for delay in (0.2, 0.5, 0.8):
        lab.schedule(delay, user, f"at {delay} s")
    t0 = time.perf_counter()
    got = fn(client, user, 3)
    took = time.perf_counter() - t0
    texts = [n.get("text") if isinstance(n, dict) else n for n in (got or [])]
    if texts != ["at 0.2 s", "at 0.5 s", "at 0.8 s"]:
        raise _fail(f"expected the 3 notifications in order, got {texts!r}")
    paths = [r.url for r in client.history]
    if any("/notifications/wait" not in p for p in paths):
        raise _fail("use the long-polling endpoint /api/users/<user>/notifications/wait for every request")
    if len(paths) > 4:
        raise _fail(f"{len(paths)} requests for 3 events; pass after=<last_id> so each answer brings only news")
    if took > 1.3:
        raise _fail(f"it took {took:.2f} s for events at 0.2-0.8 s; ask again at once after each answer")
    return f"long_poll_loop works: {len(paths)} requests for 3 events, done {took:.2f} s after the start."


@_check
def event_data(fn: Callable[[str], list]) -> str:
    """Lesson 3: ``fn(text)`` returns the data of each event in an event-stream text."""
    from .sse import EventParser, encode

    stream = (encode(retry=1000, comment="hello") + encode("first", id=1)
              + encode("two\nlines", event="note", id=2) + encode(comment="keep-alive")
              + encode('{"json": true}', id=3)).decode()
    want = [e.data for e in EventParser().feed(stream.encode())]
    got = fn(stream)
    if got != want:
        raise _fail(f"for the stream\n{stream}\nthe event data are {want!r}, yours gave {got!r}. "
                    "Events end at a blank line; join several data: lines with a newline; skip ':' comments")
    return "event_data reads events, multi-line data and comments right."


@_check
def polls_per_event(fn: Callable[[float, float], float], result=None) -> str:
    """Lesson 6: ``fn(rate, interval)``: polling requests per delivered event, in the long run.

    Events arrive at ``rate`` per second; the client polls every ``interval``
    seconds whatever happens, so the answer is polls per second over events
    per second. With ``result`` (an :class:`~duplexlab.arena.ArenaResult` that
    ran polling), the check also sets your formula beside that run's figures.
    """
    for rate, interval in ((2, 1), (4, 0.5), (1, 2), (10, 0.1)):
        want = 1 / (rate * interval)
        got = fn(rate, interval)
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
            raise _fail(f"fn({rate}, {interval}) = {got!r}; the client sends 1/{interval:g} polls per second "
                        f"and gets {rate:g} events per second, so {want:g} polls per event")
    if result is None:
        with Arena() as arena:
            result = arena.run(rate=10, duration=1.5, poll_interval=0.5, transports=("polling",), tap=False,
                               seed=7)
    polling = result.results["polling"]
    window = result.duration - EVENTS_START
    polls_per_s = polling.requests / polling.clients / polling.seconds if polling.seconds else 0.0
    events_per_s = len(result.event_times) / window if window > 0 else 0.0
    formula = fn(result.rate, result.poll_interval)
    if not events_per_s:
        return f"polls_per_event works; the run had no events to compare with (formula {formula:.2f})."
    return (f"polls_per_event works. In the run: {polls_per_s:.2f} polls/s per client and "
            f"{events_per_s:.2f} events/s → {polls_per_s / events_per_s:.2f} polls per event; your formula "
            f"with the run's settings (rate {result.rate:g}, interval {result.poll_interval:g} s) says {formula:.2f}. "
            "A short run's random events make the two differ; they agree in the long run.")


def _arena_result():
    """One real side-by-side run, shared by the checks that read it (it takes seconds)."""
    if not _ARENA_RESULT:
        with Arena() as arena:
            _ARENA_RESULT.append(arena.run(rate=5, duration=1.0, poll_interval=0.5, seed=11))
    return _ARENA_RESULT[0]


_ARENA_RESULT: list = []


@_check
def cheapest(fn: Callable, result=None) -> str:
    """Lesson 6: ``fn(result)`` names the transport with the fewest bytes per delivered event.

    ``result`` is the run to judge (the lesson passes its own); without one the
    check makes a short run of its own.
    """
    result = result if result is not None else _arena_result()
    per_event = {name: r.bytes_per_event for name, r in result.results.items() if r.deliveries}
    if not per_event:
        raise _fail("that run delivered no events; run it again (or pass a run that has events)")
    want = min(per_event, key=per_event.get)
    got = fn(result)
    if got != want:
        shown = ", ".join(f"{k}: {v:.0f} B" for k, v in per_event.items())
        raise _fail(f"bytes per delivered event were {shown}; the fewest is {want!r}, you said {got!r}. "
                    "Use result.results[name].bytes_per_event")
    return f"cheapest works: {want} ({per_event[want]:.0f} bytes per event in this run)."


@_check
def keepalive_deadline(fn: Callable[[float, float, float], float]) -> str:
    """Lesson 7: ``fn(ping_interval, ping_timeout, close_timeout)``: the longest a dead path goes unnoticed."""
    for args in ((20, 20, 10), (1, 1, 0.5), (5, 2, 1)):
        want = sum(args)
        got = fn(*args)
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
            raise _fail(f"fn{args} = {got!r}; the ping waits up to ping_interval, its pong up to "
                        f"ping_timeout, the closing handshake up to close_timeout: {want:g} s")
    from websockets.exceptions import ConnectionClosed

    lab = current()
    tap = lab.tap(lab.ws_url)
    tap.idle_timeout, tap.idle_action = 0.2, "silent"
    try:
        t0 = time.perf_counter()
        ws = lab.connect("/echo", base_url=tap.url, ping_interval=0.5, ping_timeout=0.5, close_timeout=0.25)
        try:
            while True:
                ws.recv(timeout=5)
        except (ConnectionClosed, TimeoutError):
            took = time.perf_counter() - t0
    finally:
        tap.close()
    if not 0.8 * fn(0.5, 0.5, 0.25) <= took <= 1.2 * fn(0.5, 0.5, 0.25):
        raise _fail(f"a real dead path was noticed after {took:.2f} s; your formula says {fn(0.5, 0.5, 0.25):g} s")
    return f"keepalive_deadline works: a real dead path was noticed after {took:.2f} s (formula 1.25 s)."


@_check
def backoff_wait(fn: Callable[[int, float, float, float], float]) -> str:
    """Lesson 7: ``fn(attempt, first, cap, u)``: the wait before reconnect attempt ``attempt``.

    The base is ``first * 2**(attempt - 1)``, at most ``cap``; with "equal
    jitter" the wait is half the base plus ``u`` (a random number in [0, 1))
    times the other half.
    """
    import random

    from .resilient import Backoff

    for attempt in range(1, 12):
        for first, cap in ((0.1, 5.0), (1.0, 30.0)):
            u = random.random()

            class Fixed(random.Random):
                def uniform(self, a, b, u=u):
                    return a + (b - a) * u

            want = Backoff(first=first, cap=cap, rng=Fixed()).wait(attempt)
            got = fn(attempt, first, cap, u)
            if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
                raise _fail(f"fn({attempt}, {first}, {cap}, {u:.3f}) = {got!r}, expected {want:.4f}: "
                            f"base = min({cap}, {first} * 2**{attempt - 1}), wait = base/2 + u * base/2")
    return "backoff_wait grows, caps and jitters like the package's Backoff."
