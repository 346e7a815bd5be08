"""Connection hygiene and bounded memory: what a careless or hostile client cannot do to the lab."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
import sys
import time

import pytest
from websockets.asyncio.client import connect

import duplexlab as dl
from duplexlab.apps import realtime
from duplexlab.runtime.hygiene import HEADER_TIMEOUT, RateLimitedLog

from .helpers import seconds, wait_for


def exchange(port: int, *parts: bytes, pause: float = 0.0) -> bytes:
    """Send ``parts`` with ``pause`` seconds between them; read the answer to its end."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(5)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for k, part in enumerate(parts):
            if k:
                time.sleep(pause)
            sock.sendall(part)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_json_sent_in_two_writes_is_read_whole(lab):
    """A JSON body that arrives in two writes 50 ms apart is accepted, not 'malformed'."""
    body = b'{"text": "sent in two halves"}'
    head = (
        f"POST /api/users/asha/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n"
    ).encode()
    answer = exchange(lab.port, head + body[:10], body[10:], pause=0.05)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert lab.notifications.all[-1].text == "sent in two halves"


def chunked(body: bytes, size: int) -> bytes:
    out = b""
    for k in range(0, len(body), size):
        piece = body[k : k + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_bodies_are_read_whole_and_limited(lab):
    """A small chunked JSON body is accepted; a 70 KiB chunked one gets 413."""
    head = (
        b"POST /api/users/asha/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    small = exchange(lab.port, head + chunked(b'{"text": "chunked"}', 5))
    assert small.startswith(b"HTTP/1.1 201"), small[:200]
    big = json.dumps({"text": "x" * 70 * 1024}).encode()
    answer = exchange(lab.port, head + chunked(big, 4096))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"limit" in answer


@pytest.mark.load
def test_ten_thousand_connections_keep_a_bounded_record(lab):
    """10,000 WebSockets opened and closed: the kept records stay at MAX_RECORDS."""

    async def one() -> None:
        async with connect(lab.ws_url + "/echo", proxy=None, compression=None):
            pass

    async def crowd() -> None:
        for _ in range(50):
            await asyncio.gather(*(one() for _ in range(200)))

    asyncio.run(crowd())
    wait_for(lambda: not lab.websockets.open_connections, why=lambda: len(lab.websockets.open_connections))
    records = lab.websockets.records
    assert len(records) == realtime.MAX_RECORDS
    assert records[-1].id == 10_000 and not lab.websockets.open_connections


def test_an_abandoned_long_poll_is_forgotten_at_once(lab):
    """A client that gives up on a held request takes its waiter with it."""
    before = len(lab.notifications._listeners)
    sock = socket.create_connection(("127.0.0.1", lab.port))
    sock.sendall(b"GET /api/users/asha/notifications/wait?timeout=30 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    wait_for(lambda: len(lab.notifications._listeners) != before, timeout=2, interval=0.01)
    assert len(lab.notifications._listeners) == before + 1
    sock.close()
    wait_for(lambda: len(lab.notifications._listeners) <= before, timeout=2, interval=0.01)
    assert len(lab.notifications._listeners) == before


def test_topics_and_the_taps_recording_are_bounded(lab):
    """150 topics keep at most MAX_TOPICS; a tap past its recording limit says 'truncated'."""
    for k in range(150):
        lab.publish(f"topic-{k}", k)
    lab.client().get("/api/health")  # the publishes ran before this round trip ends
    assert len(lab.websockets.topics) == realtime.MAX_TOPICS
    with pytest.raises(ValueError, match="topic names"):
        lab.publish("bad topic!", 1)
    tap = lab.tap()
    tap.max_recorded = 500
    client = lab.client(tap.url)
    for _ in range(5):
        client.get("/api/health")
    assert tap.truncated > 0
    assert tap.transcript().startswith("[truncated: the tap passed on")


def test_the_log_filter_lets_one_line_per_kind_through():
    """100 identical errors with tracebacks → one line without traceback; the next says how many."""
    logger = logging.getLogger("duplexlab.test-flood")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    limit = RateLimitedLog(window=0.2)
    logger.addFilter(limit)
    try:
        for _ in range(100):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                logger.exception("accept failed")
        time.sleep(0.25)
        logger.error("accept failed")
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(limit)
    assert len(records) == 2
    assert records[0].exc_info is None and "Too many open files" in records[0].getMessage()
    assert "99 more like this" in records[1].getMessage()


LAB_SCRIPT = """
import sys, duplexlab as dl
lab = dl.Lab().start()
print(lab.port, lab.websockets.port, flush=True)
sys.stdin.read()
lab.close()
"""


@pytest.mark.process
@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
@pytest.mark.load
def test_half_requests_under_1024_files_do_not_lock_out_a_client(tmp_path):
    """1,100 half-sent requests to a lab limited to 1,024 files: a retrying client gets in
    within the header time limit + 2 s, and the lab writes at most 20 log lines."""
    log = tmp_path / "lab.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            ["prlimit", "--nofile=1024:1024", sys.executable, "-c", LAB_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert proc.stdin is not None and proc.stdout is not None
    held: list[socket.socket] = []
    try:
        http_port, ws_port = map(int, proc.stdout.readline().split())
        for _ in range(1100):
            try:
                sock = socket.create_connection(("127.0.0.1", http_port), timeout=1)
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
                held.append(sock)
            except OSError:
                pass

        def served() -> bool:
            try:
                answer = exchange(
                    http_port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
            except OSError:
                return False
            return answer.startswith(b"HTTP/1.1 200")

        # the held connections are let go after HEADER_TIMEOUT: then a client gets in
        wait_for(served, timeout=HEADER_TIMEOUT + 2, why=lambda: "the client never got in", interval=0.2)
        from websockets.sync.client import connect as ws_connect

        with ws_connect(
            f"ws://127.0.0.1:{ws_port}/echo", proxy=None, open_timeout=seconds(5)
        ) as ws:  # the WebSocket port serves again too
            ws.send("in")
            assert ws.recv(timeout=seconds(5)) == "in"
    finally:
        for sock in held:
            sock.close()
        proc.stdin.close()
        try:
            proc.wait(seconds(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lines = log.read_text().splitlines()
    assert len(lines) <= 20, "\n".join(lines[:40])


def test_the_open_file_limit_is_raised_at_start():
    """dl.start() raises the soft open-file limit toward the hard one (a classroom needs sockets)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
        dl.start()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 512
    finally:
        dl.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_body_that_trickles_is_cut_with_408(lab, monkeypatch):
    """Headers on time, then a body at one byte a while: 408 after BODY_TIMEOUT, not held forever."""
    from duplexlab.runtime import http as webapp

    monkeypatch.setattr(webapp, "BODY_TIMEOUT", 0.3)
    head = (
        b"POST /api/users/asha/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"
    )
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", lab.port), timeout=seconds(5)) as sock:
        sock.sendall(head)
        time.sleep(0.1)
        sock.sendall(b" ")  # then nothing more
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert time.perf_counter() - t0 < seconds(2)


def test_every_channel_closes_oversize_messages_with_1009(lab):
    """A 100 KiB message on /stream, /echo, /chat and /notifications: closed with 1009."""
    from websockets.exceptions import ConnectionClosed

    for path in ("/stream/t?last=0", "/echo", "/chat?name=big", "/notifications/asha"):
        ws = lab.connect(path, max_size=None)
        ws.send("x" * 100 * 1024)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=seconds(3))
        close = info.value.rcvd
        assert close is not None and close.code == 1009, path


def test_a_subscriber_that_never_reads_is_let_go(lab):
    """A socket that never reads: once 1 MiB waits for it, the lab stops buffering and closes it."""
    sock = socket.create_connection(("127.0.0.1", lab.websockets.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        b"GET /notifications/victim HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    try:
        assert sock.recv(12) == b"HTTP/1.1 101"
        wait_for(lambda: lab.websockets._server.connections, timeout=2, interval=0.01)
        server_side = next(iter(lab.websockets._server.connections))
        text = "x" * 3_900
        for _ in range(2_000):  # about 8 MB for a reader that takes none of it
            lab.notify("victim", text)
        buffered = lab.run(_buffered(server_side))
        assert buffered < realtime.SLOW_READER + 64 * 1024, buffered
        assert server_side.protocol.state.name in ("CLOSING", "CLOSED")
    finally:
        sock.close()


async def _buffered(ws) -> int:
    return ws.transport.get_write_buffer_size() if ws.transport else 0


def test_the_gate_holds_each_address_and_each_door_to_its_share():
    """An address over its cap is refused (and says so) while another address and the lab's own machine
    still get in; a door over its share is refused while the others are not; a pass left frees its place."""
    from duplexlab.runtime.hygiene import ConnectionGate

    gate = ConnectionGate(limit=100)
    gate.per_address, gate.own_addresses = (lambda: 3), {"127.0.0.1"}
    flood = [gate.admit(("192.0.2.9", port)) for port in range(10)]
    assert sum(p is not None for p in flood) == 3 and gate.by_address["192.0.2.9"] == 3
    assert b"your address 192.0.2.9 holds 3" in gate.busy_response()
    assert gate.admit(("192.0.2.10", 1)) is not None  # another machine
    assert all(gate.admit(("127.0.0.1", port)) is not None for port in range(10))  # the lab's own machine
    first = flood[0]
    assert first is not None
    first.leave()
    first.leave()  # twice is harmless
    assert gate.admit(("192.0.2.9", 99)) is not None
    gate.shares["balancer"] = 0.5
    held = [gate.admit(("127.0.0.1", port), weight=2, door="balancer") for port in range(40)]
    assert sum(p is not None for p in held) == 25 and b"balancer" in gate.busy_response()
    assert gate.admit(("127.0.0.1", 1)) is not None  # the lab's own server still has room
    gate.forwarded[("127.0.0.1", 5555)] = "192.0.2.9"  # a tap's own end, carrying that machine's connection
    assert gate.source(("127.0.0.1", 5555)) == "192.0.2.9" and gate.admit(("127.0.0.1", 5555)) is None
