"""Classroom mode's door: a join code, and one credential per student.

A teacher's lab in classroom mode (``dl.start(classroom=True, host=...)``)
keeps a :class:`Roster`. A student exchanges the current join code for a
credential of their own (``POST /api/classroom/join``); from then on every
request carries it (``Authorization: Bearer <credential>``) and so does every
WebSocket handshake: the URL never does, and neither does an ``Origin`` (a
student's widgets come from their own ``localhost`` Jupyter, so an origin
identifies nobody). The teacher can rotate the join code (students already in
stay in; new joins need the new code) and remove a student (their credential is
revoked; the lab closes their sockets; their name is not given to anyone else).

This module is the door, and knows no app: :func:`classroom_door` checks the
credential of every request but health and join, counts it, limits it to
``RATE_LIMIT`` a second, and passes the student's name on with it
(``request[SEAT_KEY]``). What each app lets a student do (only their own
notifications, their own judge submissions, the dashboard's settings and
checks) are the apps' own rules at the door: :mod:`duplexlab.apps.classroom`.
The teacher's credential may use everything.

The teacher's own browser widgets keep using their one-use tickets (see
:mod:`duplexlab.runtime.policy`), which the teacher's kernel issues.

Seats are people, and budgets are per student, not per socket (:class:`ClassLimits`,
``lab.roster.limits``, each settable by the teacher): at most ``seats_per_address``
seats per source address (403 beyond); the same name again from the same address
is a 409, not a second seat; after ``JOIN_FAILURES`` failed joins an address may
try once a second (429); a student holds at most ``sockets_per_student``
WebSockets and sends at most ``messages_per_second`` messages and
``bytes_per_second`` bytes a second across all of them (1008 and the reason
beyond, :meth:`Roster.spend`); the lab's connection gate holds each address to
``connections_per_address`` connections. The lab's own machine (a rehearsal on
127.0.0.1, the teacher's own clients) is not limited per address. Each student's
``limits_hit`` counts which limit stopped them, for the dashboard. Removing a
student ends all they hold: their held requests wait on ``request[END_KEY]``
(:mod:`duplexlab.runtime.http`), which the lab sets.
"""

from __future__ import annotations

import asyncio
import collections
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..errors import JoinRefused, LimitError
from .http import END_KEY, Ending, json_error, read_json

__all__ = [
    "BYTES_PER_SECOND",
    "CONNECTIONS_PER_ADDRESS",
    "JOIN_FAILURES",
    "MESSAGES_PER_SECOND",
    "NAME",
    "RATE_LIMIT",
    "REMOVED",
    "SEATS_PER_ADDRESS",
    "SEAT_KEY",
    "SOCKETS_PER_STUDENT",
    "ClassLimits",
    "Roster",
    "Rule",
    "Student",
    "admit",
    "bearer",
    "classroom_door",
    "handle_join",
    "hold",
    "own_addresses",
]

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed from a projector
NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
SEAT_KEY = web.RequestKey("duplexlab_seat", str)  # on a student's request: their name (not set for the teacher)
OPEN_PATHS = {"/api/health", "/api/classroom/join"}
RATE_LIMIT = 50.0  # requests a second per student (a polling loop at 0.1 s is 10)
SEATS_PER_ADDRESS = 3  # seats one source address may hold
CONNECTIONS_PER_ADDRESS = 64  # connections one source address may hold, across the lab's listeners
SOCKETS_PER_STUDENT = 4  # WebSockets one student may hold open
MESSAGES_PER_SECOND = 50  # WebSocket messages a second one student may send, across their sockets
BYTES_PER_SECOND = 64 * 1024  # and their bytes (one flooder fills no one's slow Wi-Fi)
JOIN_FAILURES = 5  # failed joins from one address before it may try only once a second
MAX_DOORS = 10_000  # addresses whose join attempts are remembered
REMOVED = Ending(
    401,
    "you were removed from the class by the teacher: your credential no longer works",
    "ask the teacher; if they let you back in, join again with the current code",
)


@dataclass
class _Bucket:
    """A token bucket: ``rate`` a second on average, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0  # full at first
    refilled: float = 0.0

    def take(self, now: float, amount: float = 1.0) -> bool:
        full = self.burst if self.tokens < 0 else self.tokens + (now - self.refilled) * self.rate
        self.tokens, self.refilled = min(self.burst, full), now
        if self.tokens >= amount:
            self.tokens -= amount
            return True
        return False


class ClassLimits:
    """What one address and one student may hold in a classroom; the teacher may change each.

    Example::

        lab.roster.limits.seats_per_address = 5     # a table of five shares one laptop
        lab.roster.limits.as_dict()                 # every limit and its value

    Raises:
        LimitError: a value out of its range (the message gives the range and the default).
    """

    RANGES: dict[str, tuple[int, int, int]] = {  # name: (least, most, default)
        "seats_per_address": (1, 1000, SEATS_PER_ADDRESS),
        "connections_per_address": (8, 100_000, CONNECTIONS_PER_ADDRESS),
        "sockets_per_student": (1, 1000, SOCKETS_PER_STUDENT),
        "messages_per_second": (1, 100_000, MESSAGES_PER_SECOND),
        "bytes_per_second": (1024, 1 << 30, BYTES_PER_SECOND),
    }

    seats_per_address: int
    connections_per_address: int
    sockets_per_student: int
    messages_per_second: int
    bytes_per_second: int

    def __init__(self) -> None:
        for name, (_, _, default) in self.RANGES.items():
            setattr(self, name, default)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.RANGES:
            raise AttributeError(f"no classroom limit {name!r}; the limits are {', '.join(self.RANGES)}")
        low, high, default = self.RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise LimitError(name, value, low, high, default)
        super().__setattr__(name, value)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.RANGES}

    def __repr__(self) -> str:
        return "ClassLimits(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


@dataclass
class _Door:
    """One source address at the join door: its failed joins, and when it last tried."""

    failures: int = 0
    tried: float = -math.inf


def own_addresses(host: str) -> set[str]:
    """The addresses a lab bound to ``host`` sees its own machine's connections come from."""
    if host in ("", "0.0.0.0", "::"):
        return {"127.0.0.1", "::1", "::ffff:127.0.0.1"}  # the last: IPv4 loopback on a dual-stack socket
    return {"127.0.0.1" if host == "localhost" else host}


@dataclass
class Student:
    name: str
    credential: str
    joined: float
    removed: bool = False
    requests: int = 0  # HTTP requests the lab answered for this student
    bytes_in: int = 0  # request bodies
    bytes_out: int = 0  # response bodies
    limited: int = 0  # requests answered 429 (over a rate limit)
    last_seen: float = 0.0  # time.monotonic() of their last request (0: none yet)
    checks: dict[str, str] = field(default_factory=dict)  # exercise check → ✓, ✗ or ○ (the last run)
    teacher: bool = False  # the teacher's own credential: may use every route, for anyone
    address: str | None = None  # where they joined from (None: the lab's own machine, or not over HTTP)
    limits_hit: collections.Counter[str] = field(default_factory=collections.Counter)  # limit → times it stopped them
    removal: str = ""  # once removed: what the removal ended, in words
    # futures of their held requests (streams, long polls), on the loop
    held: set[asyncio.Future[Ending]] = field(default_factory=set)
    _limits: dict[str, _Bucket] = field(default_factory=dict)  # each request limit's bucket, by name
    _messages: _Bucket = field(default_factory=lambda: _Bucket(MESSAGES_PER_SECOND, MESSAGES_PER_SECOND))
    _bytes: _Bucket = field(default_factory=lambda: _Bucket(BYTES_PER_SECOND, BYTES_PER_SECOND))

    def allow(self, now: float, limit: str = "requests/s", rate: float = RATE_LIMIT, burst: float = RATE_LIMIT) -> bool:
        """One more request within ``limit``: ``rate`` a second on average, bursts up to ``burst``.

        The door's own limit is ``"requests/s"`` (every request); an app may keep its own (the
        judge's ``"judge/s"``). A request over its limit is counted in ``limited`` and ``limits_hit``.
        """
        bucket = self._limits.get(limit)
        if bucket is None:
            bucket = self._limits[limit] = _Bucket(rate, burst)
        if bucket.take(now):
            return True
        self.limited += 1
        self.limits_hit[limit] += 1
        return False


class Roster:
    """Who may use a classroom lab: the join code and the students' credentials. Thread-safe.

    Example::

        roster = Roster()
        name, credential = roster.join(roster.code, "asha")
        roster.who(credential)   # "asha"
        roster.remove("asha")
        roster.who(credential)   # None
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.code = self._new_code()
        self._by_credential: dict[str, Student] = {}
        self._by_name: dict[str, Student] = {}
        self.settings: dict[str, object] = {"poll_interval": None}  # what the teacher sets for the class (dashboard)
        self.limits = ClassLimits()  # what one address and one student may hold; the teacher may change them
        self.own_addresses: set[str] = set()  # the lab's own machine: not limited per address (the lab sets it)
        self.ws_port = 0  # told to each student who joins (the lab sets it once its WebSocket server runs)
        self._doors: dict[str, _Door] = {}
        teacher = Student("teacher", secrets.token_urlsafe(24), time.time(), teacher=True)
        self.teacher_credential = teacher.credential  # the teacher's own clients carry it
        self._by_credential[teacher.credential] = teacher

    @staticmethod
    def _new_code() -> str:
        return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))

    def rotate(self) -> str:
        """A new join code; students already in stay in. Returns it."""
        with self._lock:
            self.code = self._new_code()
            return self.code

    def join(self, code: object, name: object, *, address: str | None = None) -> tuple[str, str]:
        """Exchange the join code for a credential; returns (the name the student got, the credential).

        The name a student gets is a user name of the lessons (``Asha.K`` becomes ``asha_k``), so their
        routes are ``/api/users/<name>/…``; a name already taken, or once given to a removed student,
        gets a number (``asha-2``): nobody inherits another student's notifications.

        ``address`` is where the request came from (None: the lab's own machine, or a call from the
        teacher's code). From one address: at most ``limits.seats_per_address`` seats, the same name
        at most once, and after ``JOIN_FAILURES`` failed joins one try a second.

        Raises:
            JoinRefused: the code is wrong or was rotated (403); the address holds its seats (403) or
                already has a seat with this name (409); too many failed joins from it (429).
            ValueError: a name that is not 1–32 letters, digits, ``_ . -``, or one that starts with "teacher".
        """
        door = self._door(address)
        now = time.monotonic()
        if door is not None and door.failures >= JOIN_FAILURES and now - door.tried < 1.0:
            raise JoinRefused(
                429,
                f"{door.failures} failed joins from {address}: it may try once a second now",
                "check the join code with the teacher, then try again in a second",
                retry_after=1,
            )
        if door is not None:
            door.tried = now
        try:
            return self._join(code, name, address)
        except JoinRefused:  # a wrong code, a name or seats taken; not a bad name with the right code
            if door is not None:  # (dl.can_reach(url, code=...) asks with no name: 400 says the code is right)
                door.failures += 1
            raise

    def _door(self, address: str | None) -> _Door | None:
        if address is None or address in self.own_addresses:
            return None
        with self._lock:
            door = self._doors.get(address)
            if door is None:
                if len(self._doors) >= MAX_DOORS:  # forget the addresses that tried longest ago
                    for stale in sorted(self._doors, key=lambda a: self._doors[a].tried)[: MAX_DOORS // 10]:
                        del self._doors[stale]
                door = self._doors[address] = _Door()
            return door

    def _join(self, code: object, name: object, address: str | None) -> tuple[str, str]:
        if not isinstance(code, str) or not secrets.compare_digest(code.strip().upper().encode(), self.code.encode()):
            raise JoinRefused(
                403, "the join code is wrong, or the teacher changed it", "ask the teacher for the current join code"
            )
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError(f"a name is 1 to 32 letters, digits, '_', '.' or '-', not {name!r}")
        if name.lower().startswith("teacher"):
            raise ValueError(f"names that start with 'teacher' are the teacher's, not {name!r}; join with your own")
        with self._lock:
            name = name.lower().replace(".", "_")  # a user name of the lessons: [a-z0-9_-]
            if address is not None and address not in self.own_addresses:
                here = [s for s in self._by_name.values() if s.address == address and not s.removed]
                if any(s.name == name for s in here):
                    raise JoinRefused(
                        409,
                        f"{name} already has a seat in this class from your address ({address})",
                        "if it is yours, keep using the seat dl.join gave you; if you lost it, ask the teacher to "
                        "remove it and join again; or join with another name",
                    )
                if len(here) >= self.limits.seats_per_address:
                    raise JoinRefused(
                        403,
                        f"your address ({address}) already holds {len(here)} seats, the most one machine may "
                        "have in this class",
                        "one seat per person: if several of you share this machine, ask the teacher "
                        f"(lab.roster.limits.seats_per_address, now {self.limits.seats_per_address})",
                    )
            unique, n = name, 2
            while unique in self._by_name:  # a removed student's name stays theirs
                unique, n = f"{name[: 31 - len(str(n))]}-{n}", n + 1
            student = Student(unique, secrets.token_urlsafe(24), time.time(), address=address)
            self._by_credential[student.credential] = student
            self._by_name[unique] = student
            return unique, student.credential

    def named(self, name: str) -> Student | None:
        """The student who has (or had: a removed one) this name, or None."""
        return self._by_name.get(name)

    def spend(self, student: Student, size: int, now: float) -> str:
        """One WebSocket message of ``size`` bytes from ``student``, on any of their sockets: "" if it is
        within their budget, else the reason to close that socket with (and the limit is counted)."""
        limits = self.limits
        for bucket, rate in (
            (student._messages, limits.messages_per_second),
            (student._bytes, limits.bytes_per_second),
        ):
            bucket.rate = bucket.burst = rate  # the teacher may have changed it
        if not student._messages.take(now):
            student.limits_hit["messages/s"] += 1
            return f"over your budget: {limits.messages_per_second} messages a second across all your sockets"
        if not student._bytes.take(now, size):
            student.limits_hit["bytes/s"] += 1
            return f"over your budget: {limits.bytes_per_second // 1024} KiB a second across all your sockets"
        return ""

    def who(self, credential: str | None) -> str | None:
        """The student a credential belongs to, or None (unknown, or removed)."""
        student = self.student(credential)
        return student.name if student is not None else None

    def student(self, credential: str | None) -> Student | None:
        """The :class:`Student` (or the teacher) a credential belongs to, unless unknown or removed."""
        if not credential:
            return None
        student = self._by_credential.get(credential)
        return student if student is not None and not student.removed else None

    def table(self) -> list[Student]:
        """Every student still in the class (not the teacher), in the order they joined."""
        return [s for s in self._by_name.values() if not s.removed]

    def remove(self, name: str) -> bool:
        """Revoke a student's credential; False if there is no such student."""
        if name == "teacher":
            raise ValueError("the teacher cannot be removed from their own class")
        with self._lock:
            student = self._by_name.get(name)
            if student is None or student.removed:
                return False
            student.removed = True
            return True

    @property
    def students(self) -> list[str]:
        """The students in the class now, in the order they joined."""
        return [s.name for s in self._by_name.values() if not s.removed]


def bearer(value: str | None) -> str | None:
    """The credential in an ``Authorization: Bearer …`` header value."""
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


Rule = Callable[[web.Request, Student], Coroutine[Any, Any, web.StreamResponse | None]]  # an async def
"""An app's own rule at the door, run on every request that carries a credential, after the door's checks.

It answers the request itself (an endpoint of its own), raises a refusal (:func:`~.http.json_error`),
or returns None to let the request through to its route.
"""


def classroom_door(
    roster: Roster,
    issue_ticket: Callable[[str], str] | None = None,
    *,
    rules: Sequence[Rule] = (),
    source: Callable[[object], str | None] | None = None,
) -> Middleware:
    """An aiohttp middleware: every request but health and join needs a student's (or the teacher's) credential.

    ``POST /api/classroom/join`` exchanges the join code for a credential (:func:`handle_join`);
    ``source(peername)`` (the lab's connection gate's) says which address a join comes from.
    ``issue_ticket(owner)`` (the lab's request policy's) hands a student's browser widget a one-use
    ticket for one WebSocket: ``POST /api/classroom/ticket`` with the credential. Every other request
    is admitted (:func:`admit`), passes the apps' ``rules`` in order, then runs held (:func:`hold`).
    """

    @web.middleware
    async def door(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/api/classroom/join" and request.method == "POST":
            return await handle_join(request, roster, address=_address(request, source))
        if request.path in OPEN_PATHS:
            return await handler(request)
        student = admit(request, roster)
        if request.path == "/api/classroom/ticket" and request.method == "POST" and issue_ticket is not None:
            return web.json_response({"ticket": issue_ticket(f"student:{student.name}")}, status=201)
        for rule in rules:
            answer = await rule(request, student)
            if answer is not None:
                return answer
        return await hold(request, handler, student)

    return door


def _address(request: web.Request, source: Callable[[object], str | None] | None) -> str | None:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    if source is not None:
        return source(peer)
    return peer[0] if isinstance(peer, tuple) else None


async def handle_join(request: web.Request, roster: Roster, *, address: str | None) -> web.Response:
    """``POST /api/classroom/join``: 201 with the student's name, credential and the WebSocket port.

    Raises:
        web.HTTPException: the join was refused (400, 403, 408, 409, 413, 429; JSON, with a hint).
    """
    example = '{"code": "<the join code>", "name": "<your name>"}'
    try:  # read_json: the whole body within BODY_TIMEOUT, up to MAX_BODY, a JSON object, or 400/408/413
        data = await read_json(request, example=example)
        name, credential = roster.join(data.get("code"), data.get("name"), address=address)
    except JoinRefused as exc:
        refusal = json_error(exc.status, exc.error, exc.hint)
        if exc.retry_after:
            refusal.headers["Retry-After"] = str(exc.retry_after)
        raise refusal from None
    except ValueError as exc:
        raise json_error(400, str(exc), f"send {example}") from None
    return web.json_response({"name": name, "credential": credential, "ws_port": roster.ws_port}, status=201)


def admit(request: web.Request, roster: Roster) -> Student:
    """The student (or the teacher) whose credential the request carries, counted; a student's name
    travels on with the request as ``request[SEAT_KEY]``.

    Raises:
        web.HTTPException: 401 without a valid credential; 429 over ``RATE_LIMIT`` requests a second.
    """
    student = roster.student(bearer(request.headers.get("Authorization")))
    if student is None:
        raise json_error(
            401,
            "this classroom lab needs your credential (or it was revoked)",
            'join with dl.join(url, code, name="you") and use its clients',
        )
    if not student.teacher and not student.allow(time.monotonic()):  # counted in limits_hit
        refusal = json_error(429, f"more than {RATE_LIMIT:g} requests a second from {student.name}", "slow down")
        refusal.headers["Retry-After"] = "1"
        raise refusal
    student.requests += 1
    student.last_seen = time.monotonic()
    student.bytes_in += request.content_length or 0
    if not student.teacher:
        request[SEAT_KEY] = student.name
    return student


async def hold(request: web.Request, handler: Handler, student: Student) -> web.StreamResponse:
    """Run the request with a future in ``request[END_KEY]``, kept in the student's ``held`` meanwhile:
    the lab sets it when it removes them, and an event stream or a long poll then ends with the reason."""
    end: asyncio.Future[Ending] | None = None
    if not student.teacher:
        end = asyncio.get_running_loop().create_future()
        request[END_KEY] = end
        student.held.add(end)
    try:
        response = await handler(request)
    finally:
        if end is not None:
            student.held.discard(end)
    body = getattr(response, "body", None)
    student.bytes_out += len(body) if isinstance(body, bytes | bytearray) else (response.content_length or 0)
    return response
