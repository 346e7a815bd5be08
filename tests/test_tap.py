"""The wire tap: a transparent proxy whose counts equal what crossed the socket."""

import asyncio
import socket

import pytest

import duplexlab as dl

from .helpers import seconds, wait_for


def _raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=seconds(5)) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_byte_counts_equal_what_the_client_socket_sent_and_received(lab):
    """For one HTTP exchange, tap bytes up/down == bytes the client socket sent/received."""
    tap = lab.tap()
    request = (
        b"POST /api/users/asha/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
        b'{"text": "hey!"}'
    )
    received = _raw_exchange(tap.url, request)
    assert received.startswith(b"HTTP/1.1 201")
    wait_for(lambda: tap.open_connections == 0, timeout=2)
    counts = tap.counts()
    assert counts.bytes_up == len(request)
    assert counts.bytes_down == len(received)
    assert counts.requests == counts.responses == counts.connections == 1
    assert counts.header_bytes_up == request.index(b"\r\n\r\n") + 4
    assert counts.body_bytes_up == 16
    assert counts.header_bytes_down + counts.body_bytes_down == len(received)
    assert counts.other_bytes_up == counts.other_bytes_down == 0
    assert tap.capture().stream(1, dl.Direction.UP) == request
    assert tap.capture().stream(1, dl.Direction.DOWN) == received


def test_transcript_shows_each_message_with_its_sizes(lab):
    """The transcript lists request and response lines, headers, bodies and byte counts."""
    tap = lab.tap()
    lab.client(tap.url).get("/api/users/ravi/notifications")
    text = tap.transcript()
    assert "→ GET /api/users/ravi/notifications HTTP/1.1" in text
    assert "← HTTP/1.1 200 OK" in text
    assert "Content-Type: application/json" in text
    assert '"user": "ravi"' in text
    counts = tap.counts()
    assert f"[{counts.header_bytes_up} bytes: {counts.header_bytes_up} header + 0 body]" in text


def test_keep_alive_requests_are_split_into_messages(lab):
    """Five requests on one kept-alive connection count as 5 requests and 5 responses."""
    tap = lab.tap()
    client = lab.client(tap.url)
    for _ in range(5):
        client.get("/api/health")
    counts = tap.counts()
    assert (counts.connections, counts.requests, counts.responses) == (1, 5, 5)
    assert counts.other_bytes_up == counts.other_bytes_down == 0


def test_raw_view_makes_line_ends_visible(lab):
    """raw() shows the exact bytes with \\r\\n visible."""
    tap = lab.tap()
    lab.client(tap.url).get("/api/health")
    assert "GET /api/health HTTP/1.1\\r\\n" in tap.raw()


def test_clear_forgets_and_close_cuts(lab):
    """clear() empties the capture; close() stops the tap and cuts its connections."""
    tap = lab.tap()
    client = lab.client(tap.url, timeout=seconds(2))
    client.get("/api/health")
    tap.clear()
    assert tap.counts().bytes_total == 0
    tap.close()
    tap.close()
    assert tap.open_connections == 0
    with pytest.raises(OSError):  # the tap's port is closed: connection refused
        client.get("/api/health")


def test_target_down_closes_the_client_side(lab):
    """A tap whose server is gone closes the client's connection instead of hanging."""
    tap = lab.tap("http://127.0.0.1:9")  # the discard port: nothing listens on loopback
    assert _raw_exchange(tap.url, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == b""


def test_tap_runs_on_any_loop():
    """A Tap started with await on a plain asyncio loop proxies bytes too."""

    async def main():
        async def echo(reader, writer):
            writer.write(await reader.read(100))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tap = await dl.Tap(f"tcp://127.0.0.1:{port}").start()
        reader, writer = await asyncio.open_connection("127.0.0.1", tap.port)
        writer.write(b"ping")
        answer = await reader.read(100)
        writer.close()
        await tap.aclose()
        server.close()
        return answer, tap.capture().bytes_up()

    assert asyncio.run(main()) == (b"ping", 4)


def test_websocket_frames_in_the_tap_match_the_socket_bytes(lab):
    """One masked client text frame: the tap's frame is the exact bytes sent; overhead 6 up, 2 down."""
    import base64
    import os

    from websockets.frames import Frame, Opcode

    tap = lab.tap(lab.ws_url)
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    frame = Frame(Opcode.TEXT, b"hello, tap").serialize(mask=True)
    with socket.create_connection(("127.0.0.1", tap.port), timeout=seconds(5)) as sock:
        sock.sendall(handshake)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 101")
        sock.sendall(frame)
        echoed = answer.partition(b"\r\n\r\n")[2]
        while len(echoed) < 12:
            echoed += sock.recv(65536)
    wait_for(lambda: len(tap.capture().ws_frames()) >= 2, timeout=2)
    up, down = tap.capture().ws_frames()[:2]
    assert up.raw == frame and up.masked and up.mask_key == frame[2:6]
    assert (up.opcode, up.payload, up.header_bytes) == ("TEXT", b"hello, tap", 6)
    assert down.raw == echoed[:12] and (down.payload, down.header_bytes, down.masked) == (b"hello, tap", 2, False)
    counts = tap.counts()
    assert counts.bytes_up == len(handshake) + len(frame)
    assert "TEXT fin=1 masked, key " + frame[2:6].hex() in tap.transcript()


def test_a_tap_says_where_it_runs_and_whether_it_listens(lab):
    """A lab's tap runs on the lab's loop and listens until closed; one started on a loop of its own has no loop."""
    tap = lab.tap()
    assert tap.loop is lab.loop and tap.running
    tap.close()
    assert not tap.running

    async def own() -> tuple[object, bool]:
        mine = await dl.Tap(lab.url).start()
        try:
            return mine.loop, mine.running
        finally:
            await mine.aclose()

    assert asyncio.run(own()) == (None, True)


def test_a_tap_with_no_idle_timeout_sleeps_and_wakes_when_one_is_set(lab):
    """No idle timeout: the idle watchdog never wakes; set one (from a cell) and it checks, and cuts."""
    import time

    tap = lab.tap(lab.url)
    time.sleep(0.2)  # ten ticks of the old watchdog
    assert tap._idle_ticks == 0
    conn = socket.create_connection((tap.host, tap.port))
    try:
        tap.idle_timeout = 0.1
        wait_for(lambda: tap.cuts == 1, timeout=5, why=lambda: f"{tap._idle_ticks} checks, no cut")
        tap.idle_timeout = None
        time.sleep(0.1)  # a check already under way ends
        ticks = tap._idle_ticks
        time.sleep(0.2)
        assert tap._idle_ticks == ticks
    finally:
        conn.close()
