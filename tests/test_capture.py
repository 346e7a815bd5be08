"""Decoding captured bytes into HTTP messages, with no sockets."""

from duplexlab.wire.capture import Capture, Chunk, Direction

UP, DOWN = Direction.UP, Direction.DOWN


def cap(*parts):
    return Capture(tuple(Chunk(float(i), conn, d, data) for i, (conn, d, data) in enumerate(parts)))


def test_chunked_response_counts_framing_as_body_and_decodes_it():
    """A chunked response: its decoded body, and header+body bytes == its wire size."""
    req = b"GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    c = cap((1, UP, req), (1, DOWN, head + body[:9]), (1, DOWN, body[9:]))
    req_m, resp = c.http_messages()
    assert resp.body == b"hello world" and resp.complete
    assert resp.header_bytes == len(head) and resp.wire_bytes == len(head + body)
    counts = c.counts()
    assert counts.bytes_down == counts.header_bytes_down + counts.body_bytes_down


def test_message_split_across_chunks_and_two_on_one_chunk():
    """Messages are found whatever the chunking: one split in two, two glued together."""
    r1 = b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    r2 = b"POST /b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"
    a1 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    a2 = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    c = cap((1, UP, r1[:7]), (1, UP, r1[7:] + r2), (1, DOWN, a1 + a2))
    lines = [m.start_line for m in c.http_messages()]
    assert lines == ["GET /a HTTP/1.1", "POST /b HTTP/1.1", "HTTP/1.1 200 OK", "HTTP/1.1 201 Created"]
    assert c.counts().body_bytes_up == 3


def test_incomplete_response_is_marked_unfinished():
    """A response whose body has not all arrived is reported incomplete, sized as received."""
    c = cap(
        (1, UP, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        (1, DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    )
    resp = c.http_messages()[1]
    assert not resp.complete and resp.body == b"abc" and resp.wire_bytes == 42
    assert "unfinished" in c.transcript()


def test_upgrade_then_websocket_frames_are_decoded():
    """After a 101 answer the bytes are WebSocket frames: 6 bytes of overhead up, 2 down."""
    req = (
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    resp = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    frame_up, frame_down = b"\x81\x82abcd\x00\x00", b"\x81\x02hi"
    c = cap((1, UP, req + frame_up), (1, DOWN, resp + frame_down))
    assert [m.status for m in c.http_messages() if not m.is_request] == [101]
    assert c.upgraded_streams(1) == (frame_up, frame_down)
    up, down = c.ws_frames()
    assert (up.opcode, up.masked, up.mask_key, up.payload, up.header_bytes) == ("TEXT", True, b"abcd", b"ab", 6)
    assert (down.opcode, down.masked, down.payload, down.header_bytes) == ("TEXT", False, b"hi", 2)
    assert up.raw == frame_up and down.raw == frame_down
    counts = c.counts()
    assert (counts.frames_up, counts.frame_header_bytes_up, counts.frame_payload_bytes_up) == (1, 6, 2)
    assert (counts.other_bytes_up, counts.other_bytes_down) == (0, 0)
    assert "TEXT fin=1 masked, key 61626364 len=2   [8 bytes: 6 header + 2 payload]  ab" in c.transcript()


def test_partial_and_garbage_frames_are_left_over():
    """A frame still arriving, or bytes that are no frame, are left over, not guessed at."""
    from duplexlab.wire.capture import decode_frames

    frames, rest = decode_frames(b"\x81\x05hel", client=False)
    assert frames == [] and rest == b"\x81\x05hel"
    frames, rest = decode_frames(b"\x81\x02hi\x81\x02yo\x8f\x00", client=False)  # opcode 15 is invalid
    assert [f.payload for f in frames] == [b"hi", b"yo"] and rest == b"\x8f\x00"
    (close,) = decode_frames(b"\x88\x05\x03\xe8bye", client=False)[0]
    assert (close.opcode, close.close_code, close.close_reason) == ("CLOSE", 1000, "bye")


def test_garbage_is_counted_not_parsed():
    """Bytes that are not HTTP are left as other bytes; no exception."""
    c = cap((1, UP, b"\x00\x01hello garbage\r\n\r\n"))
    assert c.http_messages() == []
    assert c.counts().other_bytes_up == 19


def test_read_until_close_body_needs_the_eof():
    """A response framed by closing the connection is complete once the EOF is recorded."""
    c = cap(
        (1, UP, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        (1, DOWN, b"HTTP/1.1 200 OK\r\n\r\nall of it"),
        (1, DOWN, b""),
    )
    resp = c.http_messages()[1]
    assert resp.complete and resp.body == b"all of it"


def test_empty_capture_says_so():
    """An empty capture has an honest transcript and zero counts."""
    assert Capture().transcript() == "(nothing captured yet)"
    assert Capture().counts().bytes_total == 0


def test_stream_cut_mid_body_is_an_unfinished_response():
    """A chunked response cut by the connection closing is kept, with its body so far."""
    c = cap(
        (1, UP, b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        (1, DOWN, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n3\r\nab"),
        (1, DOWN, b""),
    )
    resp = c.http_messages()[1]
    assert resp.status == 200 and not resp.complete and resp.body.startswith(b"data: ")
    assert c.counts().responses == 1


def test_a_compressed_frame_is_shown_as_it_crossed_with_its_rsv1_bit():
    """A permessage-deflate frame (RSV1 set) decodes for display: compressed, payload left as it is."""
    from duplexlab.wire.capture import decode_frames

    raw = bytes([0b1100_0001, 3]) + b"\xaa\x56\x2a"  # FIN, RSV1, text; 3 bytes; unmasked
    frames, left = decode_frames(raw, client=False)
    assert left == b"" and len(frames) == 1
    frame = frames[0]
    assert frame.compressed and frame.payload == b"\xaa\x56\x2a"
    assert "rsv1 (compressed)" in frame.describe() and "aa 56 2a" in frame.describe()
