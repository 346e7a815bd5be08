"""Failures, reproduced: dead paths and keepalive, blocked loops, cuts, bad bytes, tokens, limits."""

import asyncio
import json
import logging
import os
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.frames import Frame, Opcode

import duplexlab as dl

from .helpers import seconds, wait_for

PING, PONG_WAIT, CLOSE_WAIT = 1.0, 1.0, 0.5


def time_until_closed(ws, limit: float, t0: float | None = None) -> float | None:
    """Seconds (from t0) until the connection reports it is closed, or None if it still looks open."""
    t0 = time.perf_counter() if t0 is None else t0
    try:
        while True:
            ws.recv(timeout=max(0.01, limit - (time.perf_counter() - t0)))
    except TimeoutError:
        return None
    except ConnectionClosed as exc:
        ws.closed_by = exc
        return time.perf_counter() - t0


def test_silent_idle_cut_is_found_by_keepalive_and_only_by_it(lab):
    """A proxy silently drops an idle path: with keepalive the client learns after
    ping_interval + ping_timeout + close_timeout (±20 %); without keepalive it never does."""
    tap = lab.tap(lab.ws_url)
    tap.idle_timeout, tap.idle_action = 0.3, "silent"
    expected = PING + PONG_WAIT + CLOSE_WAIT
    t0 = time.perf_counter()
    with_keepalive = lab.connect(
        "/echo", base_url=tap.url, ping_interval=PING, ping_timeout=PONG_WAIT, close_timeout=CLOSE_WAIT
    )
    learned = time_until_closed(with_keepalive, expected * 2, t0)
    assert learned is not None and 0.8 * expected <= learned <= 1.2 * expected, learned
    assert with_keepalive.closed_by.sent.code == 1011  # keepalive ping timeout

    without = lab.connect("/echo", base_url=tap.url, ping_interval=None, close_timeout=CLOSE_WAIT)
    assert time_until_closed(without, expected * 1.6) is None  # still "open", though dead
    assert tap.dropped_bytes > 0 and tap.cuts == 2  # the pings went into the void
    without.close()


def test_blocked_event_loop_causes_a_1011_keepalive_timeout_and_the_fix_works():
    """A handler that calls time.sleep freezes its loop: pongs stop and the client closes 1011.
    With asyncio.sleep the same wait is harmless."""
    from websockets.sync.client import connect

    async def blocking(ws):
        async for message in ws:
            time.sleep(2.5)
            await ws.send(message)

    async def fixed(ws):
        async for message in ws:
            await asyncio.sleep(2.5)
            await ws.send(message)

    for handler, works in ((blocking, False), (fixed, True)):
        with dl.WebSocketServer(handler, ping_interval=None) as server:
            with connect(
                server.url,
                proxy=None,
                ping_interval=0.3,
                ping_timeout=0.6,
                close_timeout=0.3,
                logger=logging.getLogger("duplexlab.websockets"),
            ) as ws:
                ws.send("work")
                if works:
                    assert ws.recv(timeout=seconds(5)) == "work"
                else:
                    with pytest.raises(ConnectionClosedError) as info:
                        ws.recv(timeout=seconds(5))
                    close = info.value.sent
                    assert close is not None and close.code == 1011 and "keepalive" in close.reason


def test_latency_cut_and_dropped_server_side(lab):
    """Added latency delays each exchange; cut() resets both ends; drop_server() leaves the client hanging."""
    tap = lab.tap(lab.ws_url)
    ws = lab.connect("/echo", base_url=tap.url, ping_interval=None)
    t0 = time.perf_counter()
    ws.send("a")
    ws.recv(timeout=2)
    fast = time.perf_counter() - t0
    tap.latency = 0.1
    t0 = time.perf_counter()
    ws.send("b")
    assert ws.recv(timeout=2) == "b"
    assert time.perf_counter() - t0 >= 0.2 > fast  # 0.1 s each way
    tap.latency = 0
    assert tap.cut() == 1
    assert time_until_closed(ws, 2) is not None

    hanging = lab.connect("/echo", base_url=tap.url, ping_interval=None, close_timeout=0.2)
    assert tap.drop_server() == 1
    hanging.send("anyone there?")
    assert time_until_closed(hanging, 1.0) is None  # the client side still looks open
    assert tap.dropped_bytes > 0
    wait_for(lambda: not [r for r in lab.websockets.open_connections if r.path == "/echo"], timeout=2)  # server side
    hanging.close()


def _read_to_end(sock: socket.socket, got: bytes = b"") -> bytes:
    """Everything the peer sends until it closes (or goes quiet for the socket's timeout)."""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return got


def _raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(3)) as sock:
        sock.sendall(data)
        return _read_to_end(sock) if read else b""


def _after_handshake(port: int, data: bytes) -> bytes:
    """Open a WebSocket by hand, send ``data`` after the 101, return what comes back after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(3)) as sock:
        sock.sendall(_handshake())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(data)
        return _read_to_end(sock, head.partition(b"\r\n\r\n")[2])


def _handshake(path: str = "/echo") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _still_serving(lab) -> None:
    with lab.connect("/chat?name=checker") as ws:
        ws.recv(timeout=2)
        ws.send(json.dumps({"type": "message", "text": "ok?"}))
        assert json.loads(ws.recv(timeout=2))["text"] == "ok?"
    assert lab.client().get("/api/health").json()["ok"] is True


@pytest.mark.parametrize(
    "attack", ["random bytes", "truncated frame", "oversize frame", "bad opcode", "http garbage", "half a request"]
)
def test_garbage_leaves_the_lab_serving(lab, attack):
    """Random bytes, truncated and oversize frames to the WebSocket port, and garbage to the
    HTTP port: each is refused or dropped, and a normal client still works afterwards."""
    ws_port, http_port = lab.websockets.port, lab.port
    if attack == "random bytes":
        answer = _raw(ws_port, os.urandom(4096))
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    elif attack == "truncated frame":
        full = Frame(Opcode.TEXT, b"x" * 1000).serialize(mask=True)
        _raw(ws_port, _handshake() + full[:300], read=False)
    elif attack == "oversize frame":
        header = bytes([0x82, 0xFF]) + (2**40).to_bytes(8, "big") + os.urandom(4)
        answer = _after_handshake(ws_port, header)
        assert answer[0] == 0x88 and answer[2:4] == (1009).to_bytes(2, "big")  # close, 1009
    elif attack == "bad opcode":
        answer = _after_handshake(ws_port, bytes([0x83, 0x80]) + os.urandom(4))
        assert answer[0] == 0x88 and answer[2:4] == (1002).to_bytes(2, "big")  # close, protocol error
    elif attack == "http garbage":
        assert _raw(http_port, os.urandom(2048) + b"\r\n\r\n").startswith(b"HTTP/1.")
    else:
        _raw(http_port, b"POST /api/users/asha/notifications HTTP/1.1\r\nContent-Length: 100\r\n\r\n{", read=False)
    _still_serving(lab)


def test_private_channel_wants_a_token_in_the_first_message(lab):
    """No token, a wrong token, or silence: closed with 1008 and a reason; the right token works."""
    token = lab.issue_token("meera")
    for first, words in (
        ('{"type": "auth", "token": "nope"}', "invalid token"),
        ('{"type": "hello"}', "first message"),
    ):
        ws = lab.connect("/private/meera")
        ws.send(first)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=2)
        close = info.value.rcvd
        assert close is not None and close.code == 1008 and words in close.reason
    ws = lab.connect("/private/meera")
    ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(ws.recv(timeout=2))["type"] == "subscribed"
    lab.notify("meera", "for your eyes only")
    assert json.loads(ws.recv(timeout=2))["text"] == "for your eyes only"


def test_chat_rate_limit_closes_with_1008(lab):
    """More than 20 chat messages in a second: closed with 1008 and a reason that says so."""
    # the client keeps every echo it is sent (max_queue=None): with a full queue it would stop reading
    # and see the server's close frame only when the server gives up on it, close_timeout (10 s) later
    ws = lab.connect("/chat?name=spammer", max_queue=None)
    with pytest.raises(ConnectionClosed) as info:
        for i in range(100):
            ws.send(json.dumps({"type": "message", "text": f"spam {i}"}))
        while True:
            ws.recv(timeout=2)
    close = info.value.rcvd
    assert close is not None and close.code == 1008 and "rate limit" in close.reason
    _still_serving(lab)


def test_browser_origin_is_checked(lab):
    """A handshake with an Origin the lab does not know is refused with 403; allowed ones pass."""
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as info:
        lab.connect("/echo", origin="http://evil.example")
    assert info.value.response.status_code == 403
    assert lab.websockets.refused[-1][1:] == ("http://evil.example", "/echo", 403)
    lab.allow_origin("http://localhost:8888")
    with lab.connect("/echo", origin="http://localhost:8888") as ws:
        ws.send("hi")
        assert ws.recv(timeout=2) == "hi"


def test_a_client_that_leaves_a_silenced_path_is_no_longer_counted(lab):
    """After silence(), a client closing its side ends its link at the tap; the server side is not told."""
    tap = lab.tap(lab.ws_url)
    ws = lab.connect("/echo", base_url=tap.url, close_timeout=0.1)
    assert tap.open_connections == 1
    tap.silence()
    ws.close()
    wait_for(lambda: tap.open_connections == 0, timeout=3, why=lambda: tap.open_connections)
    assert lab.ws_connections == 1  # the server still holds its side: nobody told it
