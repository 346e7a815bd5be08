"""The flow decoder turns a tap's chunks, fed one at a time, into arrows — whatever the chunk boundaries."""

from __future__ import annotations

from websockets.frames import Close, Frame, Opcode

from duplexlab.wire import sse
from duplexlab.wire.capture import Chunk, Direction
from duplexlab.wire.flow import FlowDecoder, FlowEvent, Note

UP, DOWN = Direction.UP, Direction.DOWN


def decode(chunks, *, bytewise: bool = False) -> list[FlowEvent]:
    """Feed (direction, bytes) pairs; return the final events by id, in id order."""
    decoder = FlowDecoder(t0=0.0)
    events: dict[int, FlowEvent] = {}
    t = 0.0
    for direction, data in chunks:
        pieces = [data[i : i + 1] for i in range(len(data))] if bytewise and data else [data]
        for piece in pieces:
            t += 0.001
            for event in decoder.feed(Chunk(t, 1, direction, piece)):
                events[event["id"]] = event
    return [events[i] for i in sorted(events)]


def labels(events) -> list[str]:
    return [e["label"] for e in events]


REQUEST = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_a_request_and_its_response_with_header_and_body_bytes():
    """One exchange: two arrows; sizes are the bytes on the wire, split into header and body."""
    body = b'{"ok": 1}\n'
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + body
    request, answer = decode([(UP, REQUEST), (DOWN, response)])
    assert (request["kind"], request["label"], request["bytes"], request["body"]) == (
        "request",
        "GET /api/health",
        len(REQUEST),
        0,
    )
    assert (answer["kind"], answer["label"], answer["done"]) == ("response", "200 OK", True)
    assert answer["req"] == request["id"]
    assert (answer["bytes"], answer["body"], answer["head"]) == (len(response), 10, len(response) - 10)
    assert "--- body ---" in answer["detail"] and '{"ok": 1}' in answer["detail"]


def test_any_chunk_boundaries_give_the_same_arrows():
    """Fed one byte at a time, pipelined requests and chunked bodies decode to the same events."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    plain = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    post = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    conversation = [(UP, REQUEST + post), (DOWN, chunked + plain)]
    whole, bytewise = decode(conversation), decode(conversation, bytewise=True)
    assert labels(whole) == labels(bytewise) == ["GET /api/health", "POST /x", "200 OK", "404 Not Found"]
    assert (
        [e["bytes"] for e in whole]
        == [e["bytes"] for e in bytewise]
        == [
            len(REQUEST),
            len(post),
            len(chunked),
            len(plain),
        ]
    )
    assert [e["req"] for e in whole if e["kind"] == "response"] == [whole[0]["id"], whole[1]["id"]]


def frame(opcode: Opcode, data: bytes, *, client: bool) -> bytes:
    return Frame(opcode, data).serialize(mask=client, extensions=[])


def test_an_upgrade_then_frames_both_ways_then_the_ends():
    """A handshake (request, 101), then each frame as an arrow with opcode, length and mask; then FINs."""
    upgrade = b"GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    switched = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    close = Close(1000, "bye").serialize()
    conversation = [
        (UP, upgrade + frame(Opcode.TEXT, b"hello", client=True)),  # a frame right behind the request
        (DOWN, switched + frame(Opcode.TEXT, b"hello", client=False)),
        (DOWN, frame(Opcode.PING, b"", client=False)),
        (UP, frame(Opcode.CLOSE, close, client=True)),
        (DOWN, frame(Opcode.CLOSE, close, client=False)),
        (DOWN, b""),
        (UP, b""),
    ]
    for bytewise in (False, True):
        events = decode(conversation, bytewise=bytewise)
        assert labels(events) == [
            "GET /echo",
            "101 Switching Protocols",
            "TEXT 5 B masked",
            "TEXT 5 B",
            "PING 0 B",
            "CLOSE 1000 'bye' masked",
            "CLOSE 1000 'bye'",
            "conn 1: server side closed",
            "conn 1: client side closed",
        ]
        text = events[2]
        assert (text["bytes"], text["head"], text["body"]) == (11, 6, 5)
        assert "mask key" in text["detail"] and "hello" in text["detail"]


def test_a_refused_upgrade_goes_back_to_http():
    """A 403 to an upgrade: the next request on the connection is HTTP again, not frames."""
    upgrade = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    events = decode([(UP, upgrade), (DOWN, refused), (UP, REQUEST), (DOWN, refused)])
    assert labels(events) == ["GET /chat", "403 Forbidden", "GET /api/health", "403 Forbidden"]


def test_server_sent_events_are_arrows_inside_their_response():
    """Each event of a stream is an arrow that points at its response; the response stays open."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    one, two = sse.encode('{"n": 1}', event="tick", id=1), sse.encode('{"n": 2}', event="tick", id=2)
    events = decode([(UP, REQUEST), (DOWN, head + chunk(one)), (DOWN, chunk(two))])
    response = events[1]
    assert response["stream"] is True and response["done"] is False
    assert labels(events[2:]) == ["event: tick · id 1", "event: tick · id 2"]
    assert all(e["in"] == response["id"] and e["kind"] == "sse" for e in events[2:])
    assert events[2]["bytes"] == len(one)


def test_a_body_read_until_close_ends_at_the_servers_fin_and_a_cut_stream_says_so():
    """HTTP/1.0-style bodies end with the connection; a stream cut mid-body is marked cut short."""
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    events = decode([(UP, REQUEST), (DOWN, until_close), (DOWN, b"")])
    assert (events[1]["done"], events[1]["body"]) == (True, 9)
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"
    events = decode([(UP, REQUEST), (DOWN, cut), (DOWN, b"")])
    assert events[1]["label"] == "200 OK (cut short)" and events[1]["cut"] is True


def test_bytes_that_are_not_http_are_shown_as_bytes_not_lost():
    """Garbage on a connection becomes a 'data' arrow with its size; nothing raises."""
    events = decode([(UP, b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n")])
    assert [e["kind"] for e in events] == ["data"]
    assert events[0]["bytes"] == 25


def test_faults_are_marks_and_swallowed_bytes_an_arrow_that_stops_at_the_tap():
    """A cut, a silenced path and a dropped server side are marks; bytes a dead path ate are counted."""
    decoder = FlowDecoder(t0=0.0)
    cut = decoder.feed(Note(1.0, 3, "cut"))[0]
    assert (cut["kind"], cut["lane"], cut["dir"]) == ("cut", "3", "")
    eaten = decoder.feed(Note(2.0, 3, "swallowed", dropped=42, direction=Direction.UP))[0]
    assert (eaten["kind"], eaten["bytes"], eaten["dir"]) == ("swallowed", 42, "up")
    assert "42 B" in eaten["label"]
