"""Checks for the exercises: call one with your function; it says ✓ or what is wrong.

Each check runs your function against the real lab (started with ``dl.start()``)
and returns a :class:`Result`: ✓ with what was checked, or ✗ with a message you
can act on. It never stops "Run All"; ``result.raise_if_failed()`` raises
:class:`~duplexlab.errors.CheckFailed` where you want a hard stop.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from .capture import Capture
from .errors import CheckFailed
from .lab import current

__all__ = ["Result", "fetch_new", "header_share"]

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


def _check(fn: Callable[..., str]) -> Callable[..., Result]:
    """Turn a check that raises CheckFailed into one that returns a Result."""

    @functools.wraps(fn)
    def run(*args, **kwargs) -> Result:
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
