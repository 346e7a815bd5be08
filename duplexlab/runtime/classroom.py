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

A student sees and acts only as themselves: with their credential they may use
``/api/users/<their name>/…`` (notifications, long polling, events), the
notifications whose user they are, and their own judge submissions (the judge
remembers who submitted what, :data:`SEAT_KEY`); anyone else's are refused with
403 and a line saying whose they may use. Creating a notification for someone
else is the teacher's. The WebSocket server applies the same rules to
``/notifications/<user>`` and gives a student's chat socket their seat's name.
The teacher's credential may use everything.

The teacher's own browser widgets keep using their one-use tickets (see
:mod:`duplexlab.runtime.policy`), which the teacher's kernel issues.

The judge runs other people's code; in a classroom it runs it on the teacher's
machine. So a classroom's judge runs each submission inside bubblewrap as well
as its usual sandbox (no network, no homes, an empty /tmp, everything else
read-only; :func:`duplexlab.apps.sandbox.isolation`), at most one submission
every two seconds per student on average. Where bubblewrap cannot do that, the
classroom judge is off and says so (students run judge experiments on their own
labs).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["JUDGE_OFF", "JUDGE_RATE", "SEAT_KEY", "Roster", "Student", "classroom_middleware"]

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed from a projector
NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
SEAT_KEY = web.RequestKey("duplexlab_seat", str)  # on a student's request: their name (not set for the teacher)
OPEN_PATHS = {"/api/health", "/api/classroom/join"}
RATE_LIMIT = 50.0  # requests a second per student (a polling loop at 0.1 s is 10)
JUDGE_RATE = 0.5  # submissions a second per student on average (bursts of JUDGE_BURST)
JUDGE_BURST = 5.0
JUDGE_OFF = (
    "the classroom judge is off: it would run other students' code on the teacher's machine, which needs "
    "filesystem and network isolation, and bubblewrap cannot provide it here"
)


@dataclass
class _Bucket:
    """A token bucket: ``rate`` a second on average, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0  # full at first
    refilled: float = 0.0

    def take(self, now: float) -> bool:
        full = self.burst if self.tokens < 0 else self.tokens + (now - self.refilled) * self.rate
        self.tokens, self.refilled = min(self.burst, full), now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


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
    checks: dict = field(default_factory=dict)  # exercise check → ✓, ✗ or ○ (the last run)
    teacher: bool = False  # the teacher's own credential: may use every route, for anyone
    _requests: _Bucket = field(default_factory=lambda: _Bucket(RATE_LIMIT, RATE_LIMIT))
    _submissions: _Bucket = field(default_factory=lambda: _Bucket(JUDGE_RATE, JUDGE_BURST))

    def allow(self, now: float) -> bool:
        """RATE_LIMIT requests a second on average, bursts up to RATE_LIMIT."""
        return self._take(self._requests, now)

    def allow_submission(self, now: float) -> bool:
        """The judge's own bucket: JUDGE_RATE submissions a second on average, bursts up to JUDGE_BURST."""
        return self._take(self._submissions, now)

    def _take(self, bucket: _Bucket, now: float) -> bool:
        if bucket.take(now):
            return True
        self.limited += 1
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
        self.settings: dict = {"poll_interval": None}  # what the teacher sets for the class (dashboard)
        self.ws_port = 0  # told to each student who joins (the lab sets it once its WebSocket server runs)
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

    def join(self, code: str, name: str) -> tuple[str, str]:
        """Exchange the join code for a credential; returns (the name the student got, the credential).

        The name a student gets is a user name of the lessons (``Asha.K`` becomes ``asha_k``), so their
        routes are ``/api/users/<name>/…``; a name already taken, or once given to a removed student,
        gets a number (``asha-2``): nobody inherits another student's notifications.

        Raises:
            PermissionError: the code is wrong, or was rotated since.
            ValueError: a name that is not 1–32 letters, digits, ``_ . -``, or one that starts with "teacher".
        """
        if not isinstance(code, str) or not secrets.compare_digest(code.strip().upper().encode(), self.code.encode()):
            raise PermissionError("the join code is wrong, or the teacher changed it")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError(f"a name is 1 to 32 letters, digits, '_', '.' or '-', not {name!r}")
        if name.lower().startswith("teacher"):
            raise ValueError(f"names that start with 'teacher' are the teacher's, not {name!r}; join with your own")
        with self._lock:
            name = name.lower().replace(".", "_")  # a user name of the lessons: [a-z0-9_-]
            unique, n = name, 2
            while unique in self._by_name:  # a removed student's name stays theirs
                unique, n = f"{name[: 31 - len(str(n))]}-{n}", n + 1
            student = Student(unique, secrets.token_urlsafe(24), time.time())
            self._by_credential[student.credential] = student
            self._by_name[unique] = student
            return unique, student.credential

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


def _json(status: int, error: str, hint: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": error, "hint": hint}), content_type="application/json")


def _not_theirs(request: web.Request, name: str, note_owner: Callable[[int], str | None] | None) -> web.Response | None:
    """403 if student ``name``'s request is about another user; None if it is about themselves.

    ``/api/users/{user}/…`` (the notification panel, long polling, events, creating a notification)
    must name them; ``/api/notifications/{id}`` must be one of theirs (``note_owner(id)``: whose it is,
    None if there is no such notification; without it, a student may not read notifications by id).
    """
    user = request.match_info.get("user")
    if user is not None and user != name:
        if request.method == "POST":
            return _json(
                403,
                f"only the teacher creates notifications for someone else; you are {name}, not {user}",
                f"create your own with POST /api/users/{name}/notifications, or ask the teacher",
            )
        return _json(
            403,
            f"you are {name}: in a classroom you may use only your own notifications, not {user}'s",
            f"use /api/users/{name}/… instead",
        )
    note_id = request.match_info.get("id")
    if note_id is not None and request.path.startswith("/api/notifications/"):
        try:
            owner = note_owner(int(note_id)) if note_owner is not None else ""
        except ValueError:
            return None  # not a number: the route answers 404 and says what to send
        if owner is not None and owner != name:
            return _json(
                403,
                f"notification {note_id} is not yours, {name}",
                f"list yours with GET /api/users/{name}/notifications",
            )
    return None


def classroom_middleware(
    roster: Roster,
    issue_ticket=None,
    *,
    judge_isolated: bool = False,
    note_owner: Callable[[int], str | None] | None = None,
):
    """An aiohttp middleware: every request but health and join needs a student's (or the teacher's) credential.

    ``issue_ticket(owner)`` (the lab's request policy's) hands a student's browser widget a one-use
    ticket for one WebSocket: ``POST /api/classroom/ticket`` with the credential. With
    ``judge_isolated`` (bubblewrap works here) the judge takes submissions, each student at most
    ``JUDGE_RATE`` a second on average; otherwise it answers 503 and says why.

    A student's request may be only about themselves (403 otherwise, :func:`_not_theirs`);
    ``note_owner(id)`` says whose notification ``id`` is. The student's name travels on with the
    request as ``request[SEAT_KEY]`` (the judge keeps each submission's submitter with it).
    """

    @web.middleware
    async def check(request: web.Request, handler):
        path = request.path
        if path == "/api/classroom/join" and request.method == "POST":
            try:
                data = await request.json()
                name, credential = roster.join(data.get("code"), data.get("name"))
            except PermissionError as exc:
                return _json(403, str(exc), "ask the teacher for the current join code")
            except (ValueError, AttributeError) as exc:
                return _json(400, str(exc), 'send {"code": "<the join code>", "name": "<your name>"}')
            return web.json_response({"name": name, "credential": credential, "ws_port": roster.ws_port}, status=201)
        if path in OPEN_PATHS:
            return await handler(request)
        student = roster.student(bearer(request.headers.get("Authorization")))
        if student is None:
            return _json(
                401,
                "this classroom lab needs your credential (or it was revoked)",
                'join with dl.join(url, code, name="you") and use its clients',
            )
        if not student.teacher and not student.allow(time.monotonic()):
            response = _json(429, f"more than {RATE_LIMIT:g} requests a second from {student.name}", "slow down")
            response.headers["Retry-After"] = "1"
            return response
        student.requests += 1
        student.last_seen = time.monotonic()
        student.bytes_in += request.content_length or 0
        if not student.teacher:
            request[SEAT_KEY] = student.name
            refusal = _not_theirs(request, student.name, note_owner)
            if refusal is not None:
                return refusal
        if path.startswith("/api/judge/"):
            if not judge_isolated:
                return _json(503, JUDGE_OFF, "run your judge experiments on your own lab: lab = dl.start()")
            if request.method == "POST" and not student.allow_submission(time.monotonic()):
                response = _json(
                    429, f"more than one submission every {1 / JUDGE_RATE:g} s from {student.name}", "wait"
                )
                response.headers["Retry-After"] = str(math.ceil(1 / JUDGE_RATE))
                return response
        if path == "/api/classroom/ticket" and request.method == "POST" and issue_ticket is not None:
            return web.json_response({"ticket": issue_ticket(f"student:{student.name}")}, status=201)
        if path == "/api/classroom/settings" and request.method == "GET":
            return web.json_response(roster.settings)
        if path == "/api/classroom/checks" and request.method == "POST":
            try:
                data = await request.json()
                name, status = data["check"], data["status"]
                if not (isinstance(name, str) and NAME.fullmatch(name) and status in ("✓", "✗", "○")):
                    raise ValueError(name)
            except (ValueError, KeyError, TypeError):
                return _json(400, "a check report is {check, status}", 'send {"check": "fetch_new", "status": "✓"}')
            if len(student.checks) < 100 or name in student.checks:
                student.checks[name] = status
            return web.json_response({"ok": True})
        response = await handler(request)
        body = getattr(response, "body", None)
        student.bytes_out += len(body) if isinstance(body, bytes | bytearray) else (response.content_length or 0)
        return response

    return check
