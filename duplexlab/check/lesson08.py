"""Checks for lesson 8, WebSocket security (optional)."""

from __future__ import annotations

from collections.abc import Callable

from .result import check, fail

__all__ = ["accept_handshake"]


@check
def accept_handshake(fn: Callable[[dict, set], bool]) -> str:
    """Lesson 8: ``fn(headers, allowed)`` decides whether a WebSocket handshake may open.

    A browser always sends ``Origin``: accept it only if it is in ``allowed`` (``"null"``
    never is). Without ``Origin`` the client is no browser, unless ``Sec-Fetch-Site`` says
    ``cross-site``: then refuse. (Programs without a browser need a token too, checked later.)
    """
    allowed = {"http://localhost:8888", "https://course.example"}
    cases = [
        ({"Origin": "http://localhost:8888"}, True, "the page's own origin"),
        ({"Origin": "https://course.example", "Sec-Fetch-Site": "same-site"}, True, "an allowed origin"),
        ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, False, "cross-site WebSocket hijacking"),
        ({"Origin": "null"}, False, "a sandboxed page (Origin: null)"),
        ({"Origin": "http://localhost:8889"}, False, "another port is another origin"),
        ({}, True, "no Origin: a program, not a browser page"),
        ({"Sec-Fetch-Site": "cross-site"}, False, "a browser said cross-site without an Origin"),
    ]
    for headers, want, why in cases:
        got = fn(dict(headers), set(allowed))
        if got is not want:
            raise fail(f"fn({headers}, allowed) returned {got!r}; it should be {want} ({why})")
    return "accept_handshake works: allowed pages in, cross-site pages out, programs left to their tokens."
