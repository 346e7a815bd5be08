"""The embedded backplane: fakeredis's TCP server in a process of its own, behind a password.

``python -m duplexlab.cluster.embedded [HOST]`` serves on a free port of HOST
(127.0.0.1 by default), prints one JSON line ``{"port": ..., "password": ...}``
on its standard output (a pipe only the lab reads: the password is never in a
command line) and serves until its standard input closes (the lab stopped it,
or the lab's process ended).

Loopback is not a boundary: every user of the machine can connect. fakeredis
accepts ``requirepass`` but does not enforce it, so each connection passes a
door first (:func:`authenticate`, in fakeredis's handler): until it sends ``AUTH <password>``
(or ``HELLO 3 AUTH default <password>``, as redis-py 8 does), every command is
answered ``-NOAUTH``, as a real Redis would; a wrong password, a malformed
command, too many commands or :data:`AUTH_TIMEOUT` seconds without one close the
connection. At most :data:`MAX_CLIENTS` connections are served at once (each is a
thread here), of which at most :data:`MAX_PENDING` not yet authenticated.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sys
import threading
from typing import Any

__all__ = ["AUTH_TIMEOUT", "MAX_CLIENTS", "MAX_PENDING", "authenticate", "main", "read_command"]

AUTH_TIMEOUT = 2.0  # seconds a connection has to authenticate
MAX_CLIENTS = 256  # connections served at once (the lab's servers need two each)
MAX_PENDING = 32  # of them, not yet authenticated: a stranger's flood leaves room for the lab's servers
MAX_UNAUTHENTICATED = 8  # commands answered NOAUTH before the connection is closed
MAX_ARGS = 8  # a command before AUTH is short: AUTH, HELLO 3 AUTH user password SETNAME name
MAX_ARG = 512  # bytes in one argument before AUTH

NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def read_command(read_line, read: Any) -> list[bytes] | None:
    """One RESP command (an array of bulk strings) from a stream, or None if it is not one (or too big).

    ``read_line(limit)`` and ``read(n)`` read from the stream (a file's ``readline`` and ``read``).
    """
    head = read_line(32)
    if not head.startswith(b"*") or not head.endswith(b"\r\n"):
        return None
    try:
        count = int(head[1:-2])
    except ValueError:
        return None
    if not 1 <= count <= MAX_ARGS:
        return None
    args = []
    for _ in range(count):
        size_line = read_line(32)
        if not size_line.startswith(b"$") or not size_line.endswith(b"\r\n"):
            return None
        try:
            size = int(size_line[1:-2])
        except ValueError:
            return None
        if not 0 <= size <= MAX_ARG:
            return None
        data = read(size + 2)
        if len(data) != size + 2 or not data.endswith(b"\r\n"):
            return None
        args.append(data[:-2])
    return args


def encode_command(args: list[bytes]) -> bytes:
    """A command as RESP, as a client sends it."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _password_matches(user: bytes | None, given: bytes, password: bytes) -> bool:
    return (user is None or user == b"default") and secrets.compare_digest(given, password)


def authenticate(rfile: Any, wfile: Any, password: bytes) -> bytes | None:
    """The door of one connection: read commands until a good AUTH; None to close it.

    Returns what fakeredis must still see: nothing after ``AUTH``, the rest of a ``HELLO`` that
    carried ``AUTH`` (authenticated here, not there). Everything else before it is answered
    ``-NOAUTH``, at most ``MAX_UNAUTHENTICATED`` times.
    """
    for _ in range(MAX_UNAUTHENTICATED):
        args = read_command(rfile.readline, rfile.read)
        if args is None:
            wfile.write(b"-ERR Protocol error: send AUTH <password> first\r\n")
            return None
        name = args[0].upper()
        if name == b"AUTH" and len(args) in (2, 3):
            if _password_matches(args[1] if len(args) == 3 else None, args[-1], password):
                wfile.write(b"+OK\r\n")
                return b""
            wfile.write(WRONGPASS)
            return None
        if name == b"HELLO" and b"AUTH" in (a.upper() for a in args):
            at = [a.upper() for a in args].index(b"AUTH")
            if len(args) > at + 2 and _password_matches(args[at + 1], args[at + 2], password):
                return encode_command(args[:at] + args[at + 3 :])
            wfile.write(WRONGPASS)
            return None
        if name == b"QUIT":
            wfile.write(b"+OK\r\n")
            return None
        wfile.write(NOAUTH)
    return None


def _server_class():
    """fakeredis's server and handler, with the door and the connection cap (imported when used)."""
    import fcntl

    from fakeredis import TcpFakeServer
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class AuthenticatingHandler(TCPFakeRequestHandler):
        """fakeredis's handler, which serves a connection only once it has authenticated."""

        server: Any

        def handle(self) -> None:
            fd = self.connection.fileno()
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)  # fakeredis made it non-blocking; the door reads in steps
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
            self.connection.settimeout(AUTH_TIMEOUT)
            try:
                first = authenticate(self.rfile, self.wfile, self.server.password)
            except OSError:  # a timeout, or the peer went away
                return
            finally:
                self.server.authenticated(self.request)  # or gone: no longer pending either way
                with contextlib.suppress(OSError):
                    self.connection.settimeout(None)
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            if first is None:
                return
            if first:
                self.current_client.get_socket().sendall(first)  # a HELLO: fakeredis answers it
            super().handle()

    class GuardedServer(TcpFakeServer):
        """fakeredis's TCP server, with :class:`AuthenticatingHandler` and at most ``MAX_CLIENTS`` at once."""

        def __init__(self, address: tuple[str, int], password: str) -> None:
            super().__init__(address, server_type="redis")
            self.RequestHandlerClass = AuthenticatingHandler
            self.password = password.encode()
            self.fake_server.config[b"requirepass"] = self.password
            self._admitted: set[socket.socket] = set()
            self._pending: set[socket.socket] = set()
            self._admitted_lock = threading.Lock()

        def verify_request(self, request, client_address) -> bool:
            with self._admitted_lock:
                if len(self._admitted) >= MAX_CLIENTS or len(self._pending) >= MAX_PENDING:
                    return False
                self._admitted.add(request)
                self._pending.add(request)
                return True

        def authenticated(self, request) -> None:
            with self._admitted_lock:
                self._pending.discard(request)

        def shutdown_request(self, request) -> None:
            with self._admitted_lock:
                self._admitted.discard(request)
                self._pending.discard(request)
            super().shutdown_request(request)

    return GuardedServer


def main(host: str = "127.0.0.1") -> None:
    password = secrets.token_hex(16)
    server = _server_class()((host, 0), password)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="backplane", daemon=True).start()
    print(json.dumps({"port": port, "password": password}), flush=True)  # to the lab's pipe, never argv
    sys.stdin.read()  # until the lab closes it
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main(*sys.argv[1:2])
