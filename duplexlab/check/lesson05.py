"""Checks for lesson 5, chat and pushed notifications."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..lab import current
from .result import check, fail, new_user

__all__ = ["lifecycle", "no_sockets_left", "unread_badge"]


@check
def no_sockets_left(lab=None) -> str:
    """Every WebSocket to the lab is closed (a page that unmounted left nothing open)."""
    lab = lab or current()
    owned = [r for r in lab.websockets.open_connections if r.owner]
    still = [r for r in lab.websockets.open_connections if not r.owner]
    if still:
        now = time.perf_counter()
        listed = "; ".join(f"{r.path} (open {now - r.t_open:.1f} s)" for r in still)
        raise fail(
            f"{len(still)} WebSocket(s) still open: {listed}. Close them (ws.close()) "
            "or leave the `with` block that opened them"
        )
    if owned:
        return (
            f"no WebSocket is left open by a cell; {len(owned)} belong(s) to widgets still "
            "showing (" + "; ".join(r.owner for r in owned) + "); they close with their widget "
            "(a browser socket when its output is cleared) or at dl.stop()."
        )
    return f"no WebSocket is open ({len(lab.websockets.records)} were opened and closed)."


@check
def lifecycle(mount: Callable, unmount: Callable) -> str:
    """Lesson 5: ``mount(lab, user)`` opens a socket to /notifications/<user>; ``unmount(handle)`` closes it."""
    lab = current()
    user = new_user("life")
    path = f"/notifications/{user}"
    before = {r.id for r in lab.websockets.records}
    handle = mount(lab, user)
    deadline = time.perf_counter() + 2
    while not [r for r in lab.websockets.records if r.id not in before and r.path == path]:
        if time.perf_counter() > deadline:
            raise fail(f"after mount(lab, {user!r}) no WebSocket was opened to {path}")
        time.sleep(0.01)
    unmount(handle)
    mine = [r for r in lab.websockets.records if r.id not in before and r.path == path]
    deadline = time.perf_counter() + 2
    while any(r.open for r in mine):
        if time.perf_counter() > deadline:
            raise fail("after unmount(handle) the socket is still open; close it")
        time.sleep(0.01)
    if len(mine) != 1:
        raise fail(f"mount opened {len(mine)} sockets; one is enough")
    if mine[0].close_code != 1000:
        raise fail(f"the socket closed with code {mine[0].close_code}; close it normally (1000)")
    return "mount opens exactly one socket, unmount closes it with 1000."


@check
def unread_badge(fn: Callable) -> str:
    """Lesson 5: ``fn(ws, seconds)`` listens on a notifications socket and counts what arrives.

    It returns how many ``notification`` messages arrived within ``seconds``
    (other message types do not count), without sending any request.
    """
    lab = current()
    user = new_user("badge")
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
        raise fail(f"3 notifications arrived within 1 s (after a 'subscribed' message); your function counted {got!r}")
    if not 0.9 <= took <= 1.4:
        raise fail(f"fn(ws, 1.0) took {took:.2f} s; listen for about 1 s, then return the count")
    return "unread_badge counts exactly the pushed notifications."
