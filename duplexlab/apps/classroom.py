"""What each app lets a student do in classroom mode: the apps' rules at the classroom's door.

The door (:mod:`duplexlab.runtime.classroom`) checks every request's credential
and knows no app. These rules do:

- A student sees and acts only as themselves (:func:`own_routes_only`): with
  their credential they may use ``/api/users/<their name>/…`` (notifications,
  long polling, events), the notifications whose user they are, and their own
  judge submissions (the judge remembers who submitted what,
  :data:`~duplexlab.runtime.classroom.SEAT_KEY`); anyone else's are refused with
  403 and a line saying whose they may use. Creating a notification for someone
  else is the teacher's. The WebSocket server applies the same rules to
  ``/notifications/<user>`` and gives a student's chat socket their seat's name.
- The judge runs other people's code; in a classroom it runs it on the teacher's
  machine. So a classroom's judge runs each submission inside bubblewrap as well
  as its usual sandbox (no network, no homes, an empty /tmp, everything else
  read-only; :func:`duplexlab.apps.sandbox.isolation`), at most one submission
  every two seconds per student on average (:func:`judge_gate`). Where
  bubblewrap cannot do that, the classroom judge is off and says so (students
  run judge experiments on their own labs).
- The dashboard's endpoints (:func:`dashboard`): ``GET /api/classroom/settings``
  (what the teacher set for the class) and ``POST /api/classroom/checks`` (a
  student's exercise checks, as ✓, ✗ or ○).

The teacher's credential may use everything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aiohttp import web

from ..runtime.classroom import NAME, Roster, Rule, Student, classroom_door
from ..runtime.http import json_error, read_json

__all__ = [
    "JUDGE_BURST",
    "JUDGE_OFF",
    "JUDGE_RATE",
    "classroom_middleware",
    "dashboard",
    "judge_gate",
    "own_routes_only",
]

JUDGE_RATE = 0.5  # submissions a second per student on average (bursts of JUDGE_BURST)
JUDGE_BURST = 5.0
JUDGE_OFF = (
    "the classroom judge is off: it would run other students' code on the teacher's machine, which needs "
    "filesystem and network isolation, and bubblewrap cannot provide it here"
)
MAX_CHECKS = 100  # exercise checks kept per student
CHECK_EXAMPLE = '{"check": "fetch_new", "status": "✓"}'


def classroom_middleware(
    roster: Roster,
    issue_ticket: Callable[[str], str] | None = None,
    *,
    judge_isolated: bool = False,
    note_owner: Callable[[int], str | None] | None = None,
    source: Callable[[object], str | None] | None = None,
):
    """The classroom's door (:func:`~duplexlab.runtime.classroom.classroom_door`) with the apps' rules.

    ``note_owner(id)`` says whose notification ``id`` is; with ``judge_isolated`` (bubblewrap works
    here) the judge takes submissions, otherwise it answers 503 and says why. ``issue_ticket`` and
    ``source`` are the door's.
    """
    rules = [own_routes_only(note_owner), judge_gate(isolated=judge_isolated), dashboard(roster)]
    return classroom_door(roster, issue_ticket, rules=rules, source=source)


def own_routes_only(note_owner: Callable[[int], str | None] | None) -> Rule:
    """A student's request may be only about themselves; the teacher's about anyone.

    ``/api/users/{user}/…`` (the notification panel, long polling, events, creating a notification)
    must name them (403 otherwise); ``/api/notifications/{id}`` must be one of theirs (``note_owner(id)``:
    whose it is, None if there is no such notification; without it, a student may not read
    notifications by id): anyone else's answers 404, the same as an id that does not exist, so ids
    are not confirmed.
    """

    async def rule(request: web.Request, student: Student) -> None:
        if student.teacher:
            return
        name = student.name
        user = request.match_info.get("user")
        if user is not None and user != name:
            if request.method == "POST":
                raise json_error(
                    403,
                    f"only the teacher creates notifications for someone else; you are {name}, not {user}",
                    f"create your own with POST /api/users/{name}/notifications, or ask the teacher",
                )
            raise json_error(
                403,
                f"you are {name}: in a classroom you may use only your own notifications, not {user}'s",
                f"use /api/users/{name}/… instead",
            )
        note_id = request.match_info.get("id")
        if note_id is None or not request.path.startswith("/api/notifications/"):
            return
        try:
            owner = note_owner(int(note_id)) if note_owner is not None else ""
        except ValueError:
            return  # not a number: the route answers 404 and says what to send
        if owner != name:  # someone else's answers as one that does not exist: no id is confirmed
            raise json_error(
                404,
                f"no notification {note_id} of yours, {name}",
                f"list yours with GET /api/users/{name}/notifications",
            )

    return rule


def judge_gate(*, isolated: bool) -> Rule:
    """The judge in a classroom: off (503) unless ``isolated``; then ``JUDGE_RATE`` submissions a second
    from each student on average, bursts up to ``JUDGE_BURST`` (429 beyond, counted as ``"judge/s"``)."""

    async def rule(request: web.Request, student: Student) -> None:
        if not request.path.startswith("/api/judge/"):
            return
        if not isolated:
            raise json_error(503, JUDGE_OFF, "run your judge experiments on your own lab: lab = dl.start()")
        if request.method == "POST" and not student.allow(time.monotonic(), "judge/s", JUDGE_RATE, JUDGE_BURST):
            refusal = json_error(
                429, f"more than one submission every {1 / JUDGE_RATE:g} s from {student.name}", "wait"
            )
            refusal.headers["Retry-After"] = str(math.ceil(1 / JUDGE_RATE))
            raise refusal

    return rule


def dashboard(roster: Roster) -> Rule:
    """The dashboard's endpoints: ``GET /api/classroom/settings`` and ``POST /api/classroom/checks``."""

    async def rule(request: web.Request, student: Student) -> web.Response | None:
        if request.path == "/api/classroom/settings" and request.method == "GET":
            return web.json_response(roster.settings)
        if request.path == "/api/classroom/checks" and request.method == "POST":
            return await report_check(request, student)
        return None

    return rule


async def report_check(request: web.Request, student: Student) -> web.Response:
    """``POST /api/classroom/checks`` ``{"check": <name>, "status": "✓" | "✗" | "○"}``: the student's
    last run of an exercise check, for the dashboard (at most ``MAX_CHECKS`` checks each)."""
    try:
        data = await read_json(request, example=CHECK_EXAMPLE)
        name, status = data["check"], data["status"]
        if not (isinstance(name, str) and NAME.fullmatch(name) and status in ("✓", "✗", "○")):
            raise ValueError(name)
    except (ValueError, KeyError, TypeError):
        raise json_error(400, "a check report is {check, status}", f"send {CHECK_EXAMPLE}") from None
    if len(student.checks) < MAX_CHECKS or name in student.checks:
        student.checks[name] = status
    return web.json_response({"ok": True})
