"""Checks for lesson 9, more than one server."""

from __future__ import annotations

from collections.abc import Callable

from ..cluster.balancer import pick
from .result import check, fail

__all__ = ["fresh_messages", "pick_server"]


@check
def pick_server(fn: Callable[[str, str, list, int, bool], str]) -> str:
    """Lesson 9: ``fn(target, cookie, servers, turn, sticky)``: the server a balancer sends this request to.

    Sticky: a ``server`` query parameter decides if there is one, else the ``dl-server``
    cookie; the name it gives counts only if it is one of ``servers``. Otherwise (or not
    sticky) the next in turn, ``servers[turn % len(servers)]``. The lab's own balancer
    answers the same.
    """
    servers = ["A", "B", "C"]
    cases = [
        ("/chat", "", 0, False),
        ("/chat", "", 4, False),
        ("/chat?server=C", "", 0, False),
        ("/chat?server=C", "", 0, True),
        ("/chat?name=asha&server=B", "dl-server=C", 2, True),
        ("/chat", "theme=dark; dl-server=B", 0, True),
        ("/chat", "dl-server=Z", 5, True),
        ("/chat?server=", "dl-server=A", 1, True),
        ("/chat?server=Z", "dl-server=A", 2, True),  # a name that is no server: the turn, not the cookie
    ]
    for target, cookie, turn, sticky in cases:
        want = pick(target, cookie, servers, turn, sticky=sticky)
        got = fn(target, cookie, list(servers), turn, sticky)
        if got != want:
            how = "sticky" if sticky else "not sticky"
            raise fail(
                f"fn({target!r}, {cookie!r}, {servers}, {turn}, {sticky}) is {got!r}; the balancer ({how}) "
                f"sends it to {want!r}. Sticky: a ?server= decides if present (else the dl-server cookie), "
                "and only a name of one of the servers counts; everything else takes its turn: "
                "servers[turn % len(servers)]"
            )
    return "pick_server chooses as the lab's balancer does, sticky or not."


def _fresh(messages: list, last: int) -> tuple[list, int]:
    seen: list = []
    for seq, data in sorted(messages, key=lambda m: m[0]):
        if seq > last:
            seen.append(data)
            last = seq
    return seen, last


@check
def fresh_messages(fn: Callable[[list, int], tuple[list, int]]) -> str:
    """Lesson 9: ``fn(messages, last)``: the data of the messages numbered after ``last``, in number
    order, each once, and the new last number. ``messages`` are ``(seq, data)`` pairs as they came: after
    a reconnection to another server, some may come twice or out of order."""
    cases = [
        ([(1, "a"), (2, "b"), (3, "c")], 0),
        ([(4, "d"), (5, "e")], 3),
        ([(3, "c"), (4, "d"), (4, "d"), (5, "e")], 3),  # a replay that repeats one
        ([(6, "f"), (5, "e"), (7, "g")], 4),  # two servers' lines crossing
        ([(2, "b")], 5),  # nothing new
        ([], 9),
    ]
    for messages, last in cases:
        want = _fresh(messages, last)
        got = fn(list(messages), last)
        if not isinstance(got, tuple) or len(got) != 2 or (list(got[0]), got[1]) != want:
            raise fail(
                f"fn({messages}, {last}) is {got!r}; want {want!r}: keep only numbers above last, "
                "sort by number, drop a number you already took, and return the highest as the new last"
            )
    return "fresh_messages keeps each numbered message once, in order, whatever the servers sent twice."
