"""What Socket.IO costs on the wire (lesson 10 and the benchmark): the same messages three ways.

1. a plain WebSocket to the lab's ``/echo``;
2. Socket.IO over a WebSocket (after its upgrade);
3. Socket.IO over long polling (the upgrade never happens).

Each way gets a tap of its own. The same ``messages`` are sent one at a time, each waiting for
its echo; bytes and requests are what crossed that tap while they did (connecting is left out).
Round trips are measured from the notebook's thread in every way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..feedback import Feedback
from ..lab import Lab
from ..measure import summarize
from ..wire.capture import Capture
from ..wire.engineio import kinds, packets

__all__ = ["Wire", "WireComparison", "compare_wires", "packet_claims", "polling_claims"]


@dataclass(frozen=True)
class Wire:
    """One way of sending: bytes (both ways, everything on the wire) and HTTP requests per message,
    and the median round trip in microseconds."""

    name: str
    messages: int
    bytes_per_message: float
    requests_per_message: float
    rtt_us: float


@dataclass(frozen=True)
class WireComparison:
    text: str
    wires: tuple[Wire, ...]

    def __getitem__(self, name: str) -> Wire:
        for wire in self.wires:
            if wire.name == name:
                return wire
        raise KeyError(f"no way called {name!r}; the ways are {', '.join(w.name for w in self.wires)}")

    def claims(self) -> Feedback:
        """The lesson's claims about this run, each checked: ✓, or what happened instead."""
        plain, over_ws, over_polling = (self[name] for name in (WEBSOCKET, OVER_WEBSOCKET, OVER_POLLING))
        added = over_ws.bytes_per_message - plain.bytes_per_message
        lines = [
            f"{'✓' if added > 0 else '✗'} Socket.IO over a WebSocket added {added:.0f} bytes to each message "
            f"({plain.bytes_per_message:.0f} → {over_ws.bytes_per_message:.0f}): its packet's type, namespace "
            "and event name, both ways",
        ]
        times = over_polling.bytes_per_message / over_ws.bytes_per_message
        requests = over_polling.requests_per_message
        lines.append(
            f"{'✓' if requests >= 1 and times > 2 else '✗'} over long polling each message took "
            f"{requests:g} HTTP requests and {over_polling.bytes_per_message:.0f} bytes, {times:.0f}× the WebSocket's "
            "(every request carries its headers)"
        )
        slower = over_polling.rtt_us > over_ws.rtt_us
        lines.append(
            f"{'✓' if slower else '✗'} a round trip took {plain.rtt_us:.0f} µs over the plain WebSocket, "
            f"{over_ws.rtt_us:.0f} µs with Socket.IO on it, {over_polling.rtt_us:.0f} µs over long polling"
            + ("" if slower else ": the machine was busy; run the cell again")
        )
        return Feedback("\n".join(lines))

    def __str__(self) -> str:
        lines = [
            f"{len(self.text.encode())}-byte message {self.text!r}, sent {self.wires[0].messages} times, each way:",
            f"{'':30}{'bytes/message':>14}{'requests/message':>18}{'round trip':>12}",
        ]
        for w in self.wires:
            lines.append(f"{w.name:30}{w.bytes_per_message:>14.0f}{w.requests_per_message:>18.1f}{w.rtt_us:>9.0f} µs")
        return "\n".join(lines)


WEBSOCKET = "WebSocket (plain)"
OVER_WEBSOCKET = "Socket.IO over a WebSocket"
OVER_POLLING = "Socket.IO over long polling"


def compare_wires(lab: Lab, *, messages: int = 20, text: str = "hello, class") -> WireComparison:
    """Send ``text`` ``messages`` times each way and count what crossed (see the module's docstring).

    Starts the lab's Socket.IO server if it is not running (or runs with upgrades refused).
    """
    if not 1 <= messages <= 10_000:
        raise ValueError(f"messages is 1 to 10000, not {messages}")
    server = lab.socketio()
    if server.options is not None and not server.options.upgrades:
        server = lab.socketio(ping_interval=server.options.ping_interval, ping_timeout=server.options.ping_timeout)
    return WireComparison(text, (_plain(lab, messages, text), *_socket_io(lab, messages, text)))


def _plain(lab: Lab, messages: int, text: str) -> Wire:
    tap = lab.tap(lab.ws_url)
    try:
        ws = lab.connect("/echo", base_url=tap.url)
        try:
            before, rtts = tap.counts(), []
            for _ in range(messages):
                t0 = time.perf_counter()
                ws.send(text)
                ws.recv(timeout=5)
                rtts.append(time.perf_counter() - t0)
            after = tap.counts()
        finally:
            ws.close()
    finally:
        tap.close()
    return _wire(WEBSOCKET, messages, before, after, rtts)


def _socket_io(lab: Lab, messages: int, text: str) -> list[Wire]:
    found = []
    for name, transports in ((OVER_WEBSOCKET, None), (OVER_POLLING, ["polling"])):
        tap = lab.tap()
        try:
            with lab.socketio_client(base_url=tap.url, transports=transports) as client:
                _settle(client, "polling" if transports else "websocket")
                before, rtts = tap.counts(), []
                for _ in range(messages):
                    t0 = time.perf_counter()
                    client.emit("echo", text)
                    client.wait_for("echo", after=t0)
                    rtts.append(time.perf_counter() - t0)
                after = tap.counts()
        finally:
            tap.close()
        found.append(_wire(name, messages, before, after, rtts))
    return found


def _settle(client, transport: str) -> None:
    """Wait until ``client`` talks over ``transport`` and its connecting packets have crossed."""
    deadline = time.monotonic() + 5
    while client.transport != transport and time.monotonic() < deadline:
        time.sleep(0.01)
    if client.transport != transport:
        raise RuntimeError(f"the Socket.IO client stayed on {client.transport}, not {transport}")
    time.sleep(0.1)  # the upgrade's last packets (5, then the server's 6)


def _wire(name: str, messages: int, before, after, rtts: list[float]) -> Wire:
    return Wire(
        name,
        messages,
        (after.bytes_total - before.bytes_total) / messages,
        (after.requests - before.requests) / messages,
        summarize(rtts).median * 1e6,
    )


def packet_claims(capture: Capture) -> Feedback:
    """What lesson 10 says about the packets in ``capture``, each checked: ✓, ✗ or ○ (not seen yet).

    It reads the newest session in the capture: from the last open packet on."""
    found = packets(capture)
    opens = [i for i, p in enumerate(found) if p.kind == "open"]
    if not opens:
        return Feedback("○ no Socket.IO packets yet: connect a client through the tap (base_url=tap.url)")
    found = found[opens[-1] :]  # the newest session (a cell run again opens another)
    seen = kinds(found)
    opened = found[0]
    lines = []
    lines.append(
        f"{'✓' if opened.transport == 'polling' else '✗'} it opened over {opened.transport}: "
        "the session id and the ping interval came in a GET's answer"
    )
    probe = [k for k in seen if k in ("2probe", "3probe", "upgrade")]
    if probe == ["2probe", "3probe", "upgrade"]:
        lines.append("✓ then it upgraded: 2probe, 3probe and 5 over the new WebSocket")
    else:
        lines.append("○ no upgrade: the client stayed on long polling")
    connects = [p for p in found if p.kind == "CONNECT"]
    up_and_down = [p.up for p in connects][:2] == [True, False]
    lines.append(
        f"{'✓' if up_and_down else '○'} the namespace's CONNECT (40) went up and came back"
        + ("" if up_and_down else ": not yet")
    )
    events = [p for p in found if p.socket == "EVENT" and p.ack is not None and p.up]
    acks = {p.ack for p in found if p.socket == "ACK" and not p.up}
    answered = [p for p in events if p.ack in acks]
    lines.append(
        f"✓ an event asked for ack {answered[0].ack} (42…{answered[0].ack}[…]) and the ack came back (43…)"
        if answered
        else "○ no acknowledged event yet: send one with client.call(...)"
    )
    pinged = [p for p in found if p.kind == "ping" and not p.up]
    ponged = [p for p in found if p.kind == "pong" and p.up]
    lines.append(
        f"✓ the server pinged ({len(pinged)}×) and the client answered each with a pong"
        if pinged and ponged
        else "○ no ping yet: the server pings every ping_interval; wait, then run this cell again"
    )
    return Feedback("\n".join(lines))


def polling_claims(requests: int, messages: int, *, acked: bool) -> Feedback:
    """Lesson 10's claim about a long-polling client's requests for ``messages`` events, checked."""
    want = messages * (2 if acked else 1)
    how = "a POST for each, and a new GET after each ack" if acked else "a POST for each"
    mark = "✓" if requests == want else "✗"
    extra = "" if requests == want else f", not {want}: a ping fell in between, or the machine was busy; run it again"
    return Feedback(f"{mark} {messages} messages took {requests} HTTP requests: {how}{extra}")
