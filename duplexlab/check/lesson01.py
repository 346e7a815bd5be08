"""Checks for lesson 1, the one-way API."""

from __future__ import annotations

from collections.abc import Callable

from ..lab import current
from ..wire.capture import Capture
from .result import check, fail, new_user

__all__ = ["fetch_new", "header_share"]


@check
def fetch_new(fn: Callable) -> str:
    """Lesson 1: ``fn(client, user, after)`` returns the user's notifications newer than ``after``.

    It must make exactly one GET (one request, one response) and return the
    list of notification dicts that the server sent, oldest first.
    """
    lab = current()
    user = new_user("check")
    client = lab.client()
    ids = [lab.notify(user, f"note {i}").id for i in range(3)]
    for after, expected in ((0, ids), (ids[1], ids[2:]), (ids[2], [])):
        before = len(client.history)
        got = fn(client, user, after)
        made = len(client.history) - before
        if made != 1:
            raise fail(f"fn(client, {user!r}, {after}) made {made} requests; one GET is enough")
        if not isinstance(got, list):
            raise fail(f"fn should return a list of notifications, got {type(got).__name__}")
        got_ids = [n.get("id") if isinstance(n, dict) else n for n in got]
        if got_ids != expected:
            raise fail(
                f"with after={after} the user has notifications {expected} newer than it, "
                f"your function returned ids {got_ids}; pass after as the 'after' query parameter"
            )
    return "fetch_new works: one request, and only the new notifications."


@check
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
        client.get(f"/api/users/{new_user()}/notifications")
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
            raise fail(
                f"for the {len(raw)}-byte message starting {m.start_line!r} the header share is "
                f"{m.header_bytes}/{m.wire_bytes} = {expected:.4f}; your function said {got!r}. "
                "Headers end at the first b'\\r\\n\\r\\n' (count those 4 bytes as header)."
            )
    return f"header_share works on {len(messages)} real messages."
