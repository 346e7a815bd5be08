""" "Can I reach the teacher?": one try at a lab's address, and what went wrong in plain words.

:func:`can_reach` resolves the name, opens a TCP connection and asks
``GET /api/health``, each step with its own timeout, and says which step
failed and what that usually means in a classroom. Health needs no credential:
with ``code=`` it asks the lab's door whether the join code is right (without
taking a seat), with ``credential=`` whether a joined student's credential still
counts (``GET /api/classroom/settings``). :func:`probe` gathers the facts of
one try (:class:`Facts`) and :func:`judge` reads them against a verdict table
(:data:`VERDICTS`, pure), whose rows say, in short:

=====================  ==============================================================
what happened          what it usually means
=====================  ==============================================================
name does not resolve  a typo, or a name only the teacher's machine knows: type the address
refused                nothing listens there: a wrong port, or the teacher's lab is not running
network unreachable    no route to that address: not on the same network (or a wrong address)
timeout                packets vanish: a firewall on the teacher's machine, or Wi-Fi client isolation
401 / 403              the lab answered and said no: the join code or credential is wrong
404 from the classroom a lab, but not in classroom mode (or another program on that port)
=====================  ==============================================================
"""

from __future__ import annotations

import errno
import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from ..feedback import feedback_html, fit

__all__ = ["VERDICTS", "Facts", "Reach", "Row", "can_reach", "judge", "probe"]

STEP_TIMEOUT = 3.0


@dataclass
class Reach:
    """What one try found: ``ok``, the step that failed (``cause``) and what to do (``advice``)."""

    url: str
    ok: bool
    cause: str  # "reached", "name", "refused", "unreachable", "timeout", "denied", "not-a-lab",
    # "not-a-classroom", "error"
    advice: str
    seconds: float = 0.0
    status: int | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        return fit(f"{mark} {self.url}: {self.advice}")

    def _repr_pretty_(self, printer, cycle) -> None:  # a cell shows the sentence, not the fields
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return feedback_html(str(self))


def _request(code: str | None, credential: str | None) -> tuple[str, str, dict[str, str], bytes]:
    """What to ask: method, target, headers and body.

    Health for the network alone; the door with a join code and no name (it checks the code
    first: a right one is answered 400 for the missing name, and no seat is taken); the class's
    settings with a credential (they answer only a student, or the teacher, who is in).
    """
    if code is not None:
        body = json.dumps({"code": code}).encode()
        return "POST", "/api/classroom/join", {"Content-Type": "application/json"}, body
    if credential is not None:
        return "GET", "/api/classroom/settings", {"Authorization": f"Bearer {credential}"}, b""
    return "GET", "/api/health", {}, b""


def _ask(
    sock: socket.socket, host: str, port: int, method: str, target: str, headers: dict[str, str], body: bytes
) -> int:
    """Send one request and return the status of the answer (h11 writes and reads the HTTP)."""
    conn = h11.Connection(h11.CLIENT)
    fields = [("Host", f"{host}:{port}"), ("Connection", "close"), ("Content-Length", str(len(body)))]
    request = h11.Request(method=method, target=target, headers=[*fields, *headers.items()])
    sock.sendall(conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
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


@dataclass(frozen=True)
class Facts:
    """What one try at a lab's address found, before it is judged (:func:`probe`)."""

    url: str
    host: str | None
    port: int
    asked: str  # "health", "code" (is the join code right?) or "credential" (does it still count?)
    failure: str | None = None  # the step that failed: "no-host", "name", "refused", "timeout",
    # "unreachable", "error" (another OSError, in detail) or "not-http"; None: an answer came
    status: int | None = None  # the answer's status
    address: str = ""  # the address connected to
    detail: str = ""
    seconds: float = 0.0
    code: str | None = None
    timeout: float = STEP_TIMEOUT


@dataclass(frozen=True)
class Row:
    """One row of the verdict table: the facts it matches (None: any), and what it says."""

    failure: str | None
    asked: tuple[str, ...] | None
    statuses: tuple[int, ...] | None
    ok: bool
    cause: str
    advice: str  # formatted with the facts' fields and ms

    def matches(self, facts: Facts) -> bool:
        return (
            self.failure == facts.failure
            and (self.asked is None or facts.asked in self.asked)
            and (self.statuses is None or facts.status in self.statuses)
        )


_ANSWERED = None  # a row about an answer: no step failed
VERDICTS = [
    Row("no-host", None, None, False, "name", "{url!r} has no address in it: paste the whole line the teacher gave"),
    Row(
        "name",
        None,
        None,
        False,
        "name",
        "the name {host!r} does not resolve here: type the teacher's address instead (numbers like "
        "192.168.1.20, from the line the teacher shows)",
    ),
    Row(
        "refused",
        None,
        None,
        False,
        "refused",
        "connection refused: nothing listens on port {port} at {address}; check the port, and that "
        "the teacher's lab is running (ask the teacher)",
    ),
    Row(
        "timeout",
        None,
        None,
        False,
        "timeout",
        "no answer within {timeout:g} s: packets are dropped on the way without a word, which is what a "
        "firewall on the teacher's machine or the Wi-Fi's client isolation does; ask the teacher to allow "
        "port {port}, or use a network without client isolation",
    ),
    Row(
        "unreachable",
        None,
        None,
        False,
        "unreachable",
        "network unreachable: this machine has no way to {address}; you are not on the same "
        "network as the teacher (join the class Wi-Fi), or the address is mistyped",
    ),
    Row("error", None, None, False, "error", "{detail}"),
    Row(
        "not-http",
        None,
        None,
        False,
        "not-a-lab",
        "something answers on port {port}, but not with HTTP: check the port",
    ),
    # the door: 400 is "no name", so the code was right
    Row(_ANSWERED, ("code",), (400,), True, "reached", "reached the lab in {ms:.0f} ms, and the join code is right"),
    Row(
        _ANSWERED,
        ("code",),
        (403,),
        False,
        "denied",
        "the lab answered 403: it is there, but the join code {code!r} is wrong, or the teacher changed "
        "it; ask the teacher for the current code (the join line on the projector)",
    ),
    Row(
        _ANSWERED,
        ("credential",),
        (401, 403),
        False,
        "denied",
        "the lab answered {status}: it is there, but your credential is not valid (any more): the teacher "
        "removed you, or started a new lab; ask for the current code and join again",
    ),
    Row(
        _ANSWERED,
        ("code", "credential"),
        (404,),
        False,
        "not-a-classroom",
        "a lab answers on port {port}, but not in classroom mode: the teacher starts it with "
        'dl.start(classroom=True, host="…"); or the port is another program\'s',
    ),
    Row(
        _ANSWERED,
        None,
        (401, 403),
        False,
        "denied",
        "the lab answered {status}: it is there, but your join code or credential is not (any more) "
        "valid; ask the teacher for the current code and join again",
    ),
    Row(
        _ANSWERED,
        ("credential",),
        (200,),
        True,
        "reached",
        "reached the lab in {ms:.0f} ms, and your credential counts",
    ),
    Row(  # in, but over the rate limit
        _ANSWERED,
        ("credential",),
        (429,),
        True,
        "reached",
        "reached the lab in {ms:.0f} ms, and your credential counts (you send more requests a second than "
        "the lab allows: slow down)",
    ),
    Row(_ANSWERED, None, (200,), True, "reached", "reached the lab in {ms:.0f} ms"),
    Row(
        _ANSWERED,
        None,
        None,
        False,
        "not-a-lab",
        "something answered {status} on port {port}: is this the lab's address?",
    ),
]


def judge(facts: Facts) -> Reach:
    """What the facts of one try mean, from the first row of :data:`VERDICTS` they match (pure)."""
    row = next(row for row in VERDICTS if row.matches(facts))
    advice = row.advice.format(**vars(facts), ms=facts.seconds * 1000)
    return Reach(facts.url, row.ok, row.cause, advice, facts.seconds, facts.status)


def probe(
    url: str,
    *,
    code: str | None = None,
    credential: str | None = None,
    timeout: float = STEP_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Facts:
    """Try the lab at ``url`` once: resolve, connect, ask (each step within ``timeout``); the facts found."""
    method, target, extra, body = _request(code, credential)
    parts = urlsplit(url if "//" in url else f"http://{url}")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    asked = "code" if code is not None else "credential" if credential is not None else "health"
    t0 = time.perf_counter()

    def found(failure: str | None, *, status: int | None = None, address: str = "", detail: str = "") -> Facts:
        seconds = time.perf_counter() - t0
        return Facts(url, host, port, asked, failure, status, address, detail, seconds, code, timeout)

    if not host:
        return found("no-host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return found("name")
    family, kind, proto, _, address = infos[0]
    ip = str(address[0])
    sock = socket.socket(family, kind, proto)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        status = _ask(sock, host, port, method, target, {**extra, **(headers or {})}, body)
    except ConnectionRefusedError:
        return found("refused", address=ip)
    except TimeoutError:
        return found("timeout", address=ip)
    except OSError as exc:
        unreachable = exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)
        return found("unreachable" if unreachable else "error", address=ip, detail=f"{type(exc).__name__}: {exc}")
    except h11.RemoteProtocolError:
        return found("not-http", address=ip)
    finally:
        sock.close()
    return found(None, status=status, address=ip)


def can_reach(
    url: str,
    *,
    code: str | None = None,
    credential: str | None = None,
    timeout: float = STEP_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Reach:
    """Try to reach the lab at ``url`` (e.g. ``"http://192.168.1.20:8000"``) and say what happened.

    Never raises for a network problem: the answer says it. Show it as a cell's value, or test
    it: ``if dl.can_reach(url): ...``. It is :func:`probe` (the facts) judged by :func:`judge`
    (the verdict table, :data:`VERDICTS`).

    Args:
        url: the lab's address, as the teacher's join line shows it.
        code: the join code: also ask the classroom lab whether it is right (no seat is taken).
        credential: a joined seat's credential (``seat.credential``): also ask whether it still counts.
        timeout: seconds for each step (resolving, connecting, the answer).
        headers: more headers to send.

    Returns:
        A :class:`Reach`, true when the lab answered (and took the code or credential).

    Raises:
        ValueError: both a code and a credential (ask about one at a time).

    Example::

        dl.can_reach("http://192.168.1.20:8000", code="K7QM2XPA")
        # ✗ http://192.168.1.20:8000: no answer within 3 s: packets are dropped on the way …
    """
    if code is not None and credential is not None:
        raise ValueError("ask about the join code or about a credential, one at a time")
    return judge(probe(url, code=code, credential=credential, timeout=timeout, headers=headers))
