"""Checks for lesson 10, Socket.IO on the wire."""

from __future__ import annotations

from collections.abc import Callable

from ..wire.engineio import parse
from .result import check, fail

__all__ = ["packet_kind", "polling_requests"]


@check
def packet_kind(fn: Callable[[str], str]) -> str:
    """Lesson 10: ``fn(text)``: what one Engine.IO packet is, from its text.

    ``"open"``, ``"close"``, ``"ping"``, ``"pong"``, ``"upgrade"`` or ``"noop"`` for Engine.IO's own
    packets (the first digit, 0 to 6); for a message (``4``), the Socket.IO packet inside it:
    ``"CONNECT"``, ``"DISCONNECT"``, ``"ACK"``, or ``"EVENT <name>"`` with the event's name.
    ``dl.engine_io.parse(text).kind`` answers the same (besides ``2probe``/``3probe``).
    """
    cases = [
        '0{"sid":"lDv3","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}',
        "2",
        "3",
        "5",
        "6",
        "1",
        '40/chat,{"name":"asha"}',
        '40{"sid":"x8Wq"}',
        '42/chat,7["chat",{"text":"hi"}]',
        '42["score",{"runs":4}]',
        '43/chat,7[{"ok":true,"to":2}]',
        "41/chat,",
    ]
    for text in cases:
        want = parse(text).kind
        got = fn(text)
        if got != want:
            raise fail(
                f"fn({text!r}) is {got!r}, not {want!r}: the first digit is Engine.IO's type "
                "(0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop); after a 4, the next digit is "
                "Socket.IO's (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK); an EVENT's name is the first item "
                "of the JSON list, after the /namespace, and the ack number"
            )
    return "packet_kind reads each packet's type from its first digits, as dl.engine_io does."


@check
def polling_requests(fn: Callable[[int, bool], int]) -> str:
    """Lesson 10: ``fn(messages, acked)``: HTTP requests a long-polling Socket.IO client makes for
    ``messages`` events it sends, one at a time (no pings in between).

    Each event is one POST. With an acknowledgement (``acked``), the ack comes back in the GET that
    was waiting, and the client sends a new GET: one more request per message. Without one, the
    waiting GET is not answered, so no new GET is needed.
    """
    for messages in (0, 1, 10, 25):
        for acked in (True, False):
            want = messages * (2 if acked else 1)
            got = fn(messages, acked)
            if got != want:
                raise fail(
                    f"fn({messages}, {acked}) is {got!r}, not {want}: each event is one POST; "
                    "an ack ends the waiting GET, so the client sends another GET for each acked event"
                )
    return "polling_requests counts a POST per event, and a new GET per acknowledgement."
