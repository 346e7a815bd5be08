"""The embedded backplane's door, on bytes alone: what each first command gets before fakeredis sees it."""

from __future__ import annotations

import io

from duplexlab.cluster.embedded import MAX_UNAUTHENTICATED, NOAUTH, WRONGPASS, authenticate, encode_command

PASSWORD = b"s3cret"


def door(*commands: list[bytes], raw: bytes = b"") -> tuple[bytes | None, bytes]:
    """What authenticate returns for these commands, and what it wrote back."""
    rfile = io.BytesIO(b"".join(encode_command(c) for c in commands) + raw)
    wfile = io.BytesIO()
    return authenticate(rfile, wfile, PASSWORD), wfile.getvalue()


def test_the_right_password_opens_the_door():
    """AUTH <password> (or AUTH default <password>) is answered +OK, and fakeredis sees nothing of it."""
    assert door([b"AUTH", PASSWORD]) == (b"", b"+OK\r\n")
    assert door([b"auth", b"default", PASSWORD]) == (b"", b"+OK\r\n")


def test_a_wrong_password_or_user_closes_the_connection():
    """A wrong password, or another user, is WRONGPASS and the end of the connection."""
    assert door([b"AUTH", b"guess"]) == (None, WRONGPASS)
    assert door([b"AUTH", b"admin", PASSWORD]) == (None, WRONGPASS)


def test_hello_with_auth_is_authenticated_here_and_passed_on_without_it():
    """redis-py 8's HELLO 3 AUTH default <password> SETNAME x: fakeredis gets HELLO 3 SETNAME x, unanswered."""
    hello = [b"HELLO", b"3", b"AUTH", b"default", PASSWORD, b"SETNAME", b"node-A"]
    assert door(hello) == (encode_command([b"HELLO", b"3", b"SETNAME", b"node-A"]), b"")
    assert door([b"HELLO", b"3", b"AUTH", b"default", b"guess"]) == (None, WRONGPASS)


def test_anything_before_auth_is_noauth_a_few_times_then_closed():
    """Commands before AUTH are answered NOAUTH (never run), at most MAX_UNAUTHENTICATED of them."""
    opened, written = door(*[[b"GET", b"key"]] * (MAX_UNAUTHENTICATED + 1), [b"AUTH", PASSWORD])
    assert opened is None and written == NOAUTH * MAX_UNAUTHENTICATED
    assert door([b"PING"], [b"AUTH", PASSWORD]) == (b"", NOAUTH + b"+OK\r\n")


def test_quit_and_garbage_close_the_connection():
    """QUIT is +OK and the end; bytes that are not a RESP command are a protocol error and the end."""
    assert door([b"QUIT"]) == (None, b"+OK\r\n")
    opened, written = door(raw=b"GET key\r\n")
    assert opened is None and written.startswith(b"-ERR Protocol error")
