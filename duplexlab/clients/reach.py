""" "Can I reach the teacher?": one try at a lab's address, and what went wrong in plain words.

:func:`can_reach` resolves the name, opens a TCP connection and asks
``GET /api/health``, each step with its own timeout, and says which step
failed and what that usually means in a classroom:

=====================  ==============================================================
what happened          what it usually means
=====================  ==============================================================
name does not resolve  a typo, or a name only the teacher's machine knows: type the address
refused                nothing listens there: a wrong port, or the teacher's lab is not running
network unreachable    no route to that address: not on the same network (or a wrong address)
timeout                packets vanish: a firewall on the teacher's machine, or Wi-Fi client isolation
401 / 403              the lab answered and said no: the join code or credential is wrong
=====================  ==============================================================
"""

from __future__ import annotations

import errno
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

__all__ = ["Reach", "can_reach"]

STEP_TIMEOUT = 3.0


@dataclass
class Reach:
    """What one try found: ``ok``, the step that failed (``cause``) and what to do (``advice``)."""

    url: str
    ok: bool
    cause: str  # "reached", "name", "refused", "unreachable", "timeout", "denied", "not-a-lab", "error"
    advice: str
    seconds: float = 0.0
    status: int | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.url}: {self.advice}"

    def _repr_pretty_(self, printer, cycle) -> None:  # a cell shows the sentence, not the fields
        printer.text(str(self))


def _get_health(sock: socket.socket, host: str, port: int, headers: dict[str, str]) -> int:
    """Send ``GET /api/health`` and return the status (h11 writes and reads the HTTP)."""
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target="/api/health",
        headers=[("Host", f"{host}:{port}"), ("Connection", "close"), *headers.items()],
    )
    sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            conn.receive_data(data)
            if not data and conn.their_state is h11.SEND_RESPONSE:
                raise ConnectionResetError("the server closed the connection without answering")
            continue
        if isinstance(event, h11.Response):
            return event.status_code


def can_reach(url: str, *, timeout: float = STEP_TIMEOUT, headers: dict[str, str] | None = None) -> Reach:
    """Try to reach the lab at ``url`` (e.g. ``"http://192.168.1.20:8000"``) and say what happened.

    Never raises for a network problem: the answer says it. Show it as a cell's value, or test
    it: ``if dl.can_reach(url): ...``.

    Example::

        dl.can_reach("http://192.168.1.20:8000")
        # ✗ http://192.168.1.20:8000: no answer within 3 s: packets are dropped on the way …
    """
    parts = urlsplit(url if "//" in url else f"http://{url}")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    t0 = time.perf_counter()

    def done(ok: bool, cause: str, advice: str, status: int | None = None) -> Reach:
        return Reach(url, ok, cause, advice, time.perf_counter() - t0, status)

    if not host:
        return done(False, "name", f"{url!r} has no address in it: paste the whole line the teacher gave")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return done(
            False,
            "name",
            f"the name {host!r} does not resolve here: type the teacher's address instead (numbers like "
            "192.168.1.20, from the line the teacher shows)",
        )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        status = _get_health(sock, host, port, headers or {})
    except ConnectionRefusedError:
        return done(
            False,
            "refused",
            f"connection refused: nothing listens on port {port} at {address[0]}; check the port, and that "
            "the teacher's lab is running (the teacher runs the first cell again)",
        )
    except TimeoutError:
        return done(
            False,
            "timeout",
            f"no answer within {timeout:g} s: packets are dropped on the way without a word, which is what a "
            "firewall on the teacher's machine or the Wi-Fi's client isolation does; ask the teacher to allow "
            f"port {port}, or use a network without client isolation",
        )
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return done(
                False,
                "unreachable",
                f"network unreachable: this machine has no way to {address[0]}; you are not on the same "
                "network as the teacher (join the class Wi-Fi), or the address is mistyped",
            )
        return done(False, "error", f"{type(exc).__name__}: {exc}")
    except h11.RemoteProtocolError:
        return done(False, "not-a-lab", f"something answers on port {port}, but not with HTTP: check the port")
    finally:
        sock.close()
    if status in (401, 403):
        return done(
            False,
            "denied",
            f"the lab answered {status}: it is there, but your join code or credential is not (any more) "
            "valid; ask the teacher for the current code and join again",
            status,
        )
    if status == 200:
        ms = (time.perf_counter() - t0) * 1000
        return done(True, "reached", f"reached the lab in {ms:.0f} ms", status)
    return done(False, "not-a-lab", f"something answered {status} on port {port}: is this the lab's address?", status)
