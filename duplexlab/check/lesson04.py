"""Checks for lesson 4, the WebSocket handshake and frames."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from websockets.frames import Frame, Opcode
from websockets.utils import accept_key as reference

from .result import check, fail

__all__ = ["accept_key", "frame_overhead", "masking"]


@check
def accept_key(fn: Callable[[str], str]) -> str:
    """Lesson 4: ``fn(key)`` computes Sec-WebSocket-Accept for a Sec-WebSocket-Key."""

    cases = ["dGhlIHNhbXBsZSBub25jZQ=="] + [base64.b64encode(os.urandom(16)).decode() for _ in range(5)]
    for key in cases:
        got, want = fn(key), reference(key)
        if got != want:
            raise fail(
                f"for key {key!r} the answer is {want!r}, yours was {got!r}; "
                "base64 of SHA-1 of (key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)"
            )
    return f"accept_key matches RFC 6455 (and {len(cases) - 1} random keys)."


@check
def frame_overhead(fn: Callable[[int, bool], int]) -> str:
    """Lesson 4: ``fn(payload_length, masked)`` is a frame's header size in bytes."""

    for n in (0, 5, 125, 126, 1000, 65535, 65536, 100_000):
        for masked in (True, False):
            wire = Frame(Opcode.BINARY, b"x" * n).serialize(mask=masked)
            want = len(wire) - n
            got = fn(n, masked)
            if got != want:
                who = "client (masked)" if masked else "server (unmasked)"
                raise fail(f"a {who} frame with {n} payload bytes has {want} header bytes; you said {got!r}")
    return "frame_overhead matches real frames from 0 to 100,000 bytes."


@check
def masking(fn: Callable[[bytes, bytes], bytes]) -> str:
    """Lesson 4: ``fn(payload, key)`` masks (and unmasks) a payload with a 4-byte key."""

    for n in (0, 1, 4, 5, 17, 1000):
        payload, key = os.urandom(n), os.urandom(4)
        got = fn(payload, key)
        if not isinstance(got, (bytes, bytearray)):
            raise fail(f"fn should return bytes, got {type(got).__name__}")
        want = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        if got != want:
            raise fail(
                f"masking {n} bytes with key {key.hex()} gave {bytes(got)[:8].hex()}…, "
                f"expected {want[:8].hex()}…: byte i is XORed with key[i % 4]"
            )
        if fn(got, key) != payload:
            raise fail("masking twice with the same key must give the payload back")
    wire = Frame(Opcode.TEXT, b"hello").serialize(mask=True)
    if fn(wire[6:], wire[2:6]) != b"hello":
        raise fail("unmasking a real client frame did not give b'hello' back")
    return "masking works, and unmasks a real client frame."
