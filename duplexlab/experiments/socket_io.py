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

from ..lab import Lab
from ..measure import summarize

__all__ = ["Wire", "WireComparison", "compare_wires"]


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
