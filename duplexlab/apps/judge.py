"""A real code judge, like the one behind LeetCode's "Run" button.

``POST /api/judge/submissions`` with ``{"code": "print(6 * 7)"}`` answers
``202 Accepted`` and an id at once; the judge then runs the code in the
:mod:`~duplexlab.apps.sandbox` (its own process tree and temporary folder, with
time, memory, process and output limits). ``GET /api/judge/submissions/{id}``
answers ``queued``, ``running`` or ``done`` with a verdict: ``ok``,
``runtime-error``, ``time-limit``, ``memory-limit`` or ``output-limit``, the
output, and which limits this machine enforced. The client must keep asking:
that is polling. Unless it says ``"notify": "<user>"``: then the verdict is also
pushed, the moment it is ready, as that user's notification (kind
``judge-verdict``), to whoever listens on ``/notifications/<user>``.

The queue is bounded: with ``max_waiting`` submissions queued or running, a
new one gets ``503`` and ``Retry-After``. The judge remembers the last
``MAX_KEPT`` submissions.

In a classroom (a request that carries a student's name, ``SEAT_KEY``) the
judge remembers who submitted each submission: only they (or the teacher) read
its result (anyone else's answers 404, as one that does not exist), its verdict
may be pushed only to them, and each student has at
most ``max_per_submitter`` submissions queued or running (``429`` and
``Retry-After`` beyond), so two students cannot fill the class's queue. The
queue is fair: a student holds at most one of its ``max_waiting`` places (their
second submission waits behind their first, in no place of the class's), and
their submissions run one at a time. A student may ask for ``queue_delay`` and
``ready_after`` of at most ``MAX_SEAT_DELAY`` seconds and a ``time_limit`` up
to the judge's own (the class's), no more. :meth:`Judge.waiting` says who holds
what; :meth:`Judge.cancel` ends a student's submissions (when they are removed).

``queue_delay`` (seconds, in the request or as the judge's default) makes the
submission wait before it runs, as on a busy judge. ``ready_after`` (seconds)
holds the finished result until that long after the submission, so a lesson can
make results arrive at the moment it chooses (to the millisecond), whatever
the code's own run time.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from aiohttp import web

from ..errors import DuplexLabError
from ..runtime.classroom import SEAT_KEY
from ..runtime.http import json_error, read_json
from . import sandbox
from .notifications import valid_user

__all__ = ["MAX_SEAT_DELAY", "Judge", "JudgeBusy", "Status", "Submission", "SubmitterBusy", "Verdict", "add_routes"]

MAX_CODE = 10_000
MAX_QUEUE_DELAY = 60.0
MAX_TIME_LIMIT = 10.0
MAX_WAITING = 64
MAX_KEPT = 1_000
MAX_PER_SUBMITTER = 2  # a classroom student's submissions queued or running at most
MAX_SEAT_DELAY = 3.0  # seconds of queue_delay or ready_after a classroom student may ask for


class Status(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Verdict(str, enum.Enum):
    OK = "ok"
    RUNTIME_ERROR = "runtime-error"
    TIME_LIMIT = "time-limit"
    MEMORY_LIMIT = "memory-limit"
    OUTPUT_LIMIT = "output-limit"


class JudgeBusy(DuplexLabError):
    """The queue is full; try again in ``retry_after`` seconds."""

    def __init__(self, waiting: int, retry_after: int = 1) -> None:
        super().__init__(f"the judge already has {waiting} submissions queued or running")
        self.waiting, self.retry_after = waiting, retry_after


class SubmitterBusy(JudgeBusy):
    """One submitter (a classroom student) already has their share of the queue waiting or running."""

    def __init__(self, submitter: str, waiting: int, limit: int, retry_after: int = 1) -> None:
        super().__init__(waiting, retry_after)
        self.args = (
            f"{submitter} already has {waiting} submissions queued or running, and each student may have {limit}",
        )
        self.submitter, self.limit = submitter, limit


@dataclass
class Submission:
    """One submission and what became of it. Times are on the lab clock."""

    id: int
    code: str
    queue_delay: float
    time_limit: float
    ready_after: float | None = None
    status: Status = Status.QUEUED
    verdict: Verdict | None = None
    output: str = ""
    error: str = ""
    limits: dict[str, str] = field(default_factory=dict)
    t_submitted: float = field(default_factory=time.perf_counter)
    t_started: float | None = None
    t_finished: float | None = None
    t_ready: float | None = None
    notify: str | None = None  # a user whose notifications carry the verdict when it is ready
    submitter: str | None = None  # in a classroom, the student who submitted it (only they read it)

    def to_json(self) -> dict:
        data: dict[str, object] = {
            "id": self.id,
            "status": self.status.value,
            "t_submitted": self.t_submitted,
        }
        if self.status is Status.DONE:
            data.update(
                verdict=self.verdict.value if self.verdict else None,
                output=self.output,
                error=self.error,
                limits=self.limits,
                t_ready=self.t_ready,
                run_seconds=round((self.t_finished or 0) - (self.t_started or 0), 4),
            )
        return data


class Judge:
    """Runs submitted Python code in the sandbox, a few at a time.

    Args:
        time_limit: seconds a submission may run before it is stopped.
        queue_delay: default seconds a submission waits before it runs.
        concurrency: how many submissions run at once.
        limits: the sandbox's other limits (memory, processes, output…).
        max_waiting: submissions queued or running at most; more get 503.
        max_per_submitter: submissions queued or running at most for one submitter (a classroom
            student); more get 429.
    """

    def __init__(
        self,
        *,
        time_limit: float = 2.0,
        queue_delay: float = 0.0,
        concurrency: int = 4,
        limits: sandbox.Limits = sandbox.Limits(),
        max_waiting: int = MAX_WAITING,
        max_per_submitter: int = MAX_PER_SUBMITTER,
    ) -> None:
        self.time_limit = time_limit
        self.queue_delay = queue_delay
        self.isolate = False  # a classroom's judge runs every submission inside bubblewrap
        self.base_limits = limits
        self.max_waiting = max_waiting
        self.max_per_submitter = max_per_submitter
        self._in_flight: collections.Counter[str] = collections.Counter()  # submitter → queued or running
        self._turns: dict[str, asyncio.Lock] = {}  # submitter → their submissions run one at a time
        self._task_of: dict[int, asyncio.Task] = {}  # submission id → its task, while queued or running
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._concurrency = concurrency
        self._ids = itertools.count(1)
        self._subs: collections.OrderedDict[int, Submission] = collections.OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self.on_done: Callable[[Submission], None] | None = None  # the lab pushes verdicts with it

    @property
    def limits(self) -> dict[str, str]:
        """Each limit, and how this machine enforces it (or why it does not)."""
        return sandbox.enforced_limits(self._limits(self.time_limit))

    def _limits(self, time_limit: float) -> sandbox.Limits:
        return replace(self.base_limits, time=time_limit)

    def submit(
        self,
        code: str,
        *,
        queue_delay: float | None = None,
        time_limit: float | None = None,
        ready_after: float | None = None,
        notify: str | None = None,
        submitter: str | None = None,
    ) -> Submission:
        """Accept ``code`` and start judging it in the background (call on the lab loop).

        With ``notify`` (a user name), the verdict is also pushed as that user's
        notification the moment it is ready, for clients that listen instead of polling.
        With ``submitter`` (a classroom student), the submission is theirs.

        Raises:
            SubmitterBusy: ``submitter`` already has ``max_per_submitter`` queued or running.
            JudgeBusy: ``max_waiting`` submissions are already queued or running.
        """
        if submitter is not None and self._in_flight[submitter] >= self.max_per_submitter:
            raise SubmitterBusy(submitter, self._in_flight[submitter], self.max_per_submitter)
        holds_a_place = submitter is not None and self._in_flight[submitter] > 0
        if not holds_a_place and self.places_taken >= self.max_waiting:  # a second one waits in no place
            raise JudgeBusy(self.places_taken)
        sub = Submission(
            next(self._ids),
            code,
            self.queue_delay if queue_delay is None else queue_delay,
            self.time_limit if time_limit is None else time_limit,
            ready_after,
            notify=notify,
            submitter=submitter,
        )
        self._subs[sub.id] = sub
        while len(self._subs) > MAX_KEPT:
            self._subs.popitem(last=False)  # forget the oldest
        task = asyncio.get_running_loop().create_task(self._judge(sub))
        self._tasks.add(task)
        self._task_of[sub.id] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._task_of.pop(sub.id, None))
        if submitter is not None:
            self._in_flight[submitter] += 1
            task.add_done_callback(lambda _: self._release(submitter))
        return sub

    @property
    def places_taken(self) -> int:
        """Places of the queue taken: one per submitter with something queued or running, one per other submission."""
        by_submitters = sum(self._in_flight.values())
        return len(self._tasks) - by_submitters + len(self._in_flight)

    def waiting(self) -> dict[str, int]:
        """Each classroom student's submissions queued or running now (what the teacher's dashboard shows)."""
        return dict(self._in_flight)

    def cancel(self, submitter: str) -> int:
        """End every submission of ``submitter`` still queued or running (on the lab loop); how many."""
        theirs = [
            task
            for sub_id, task in self._task_of.items()
            if not task.done() and getattr(self._subs.get(sub_id), "submitter", None) == submitter
        ]
        for task in theirs:
            task.cancel()
        return len(theirs)

    def _release(self, submitter: str) -> None:
        self._in_flight[submitter] -= 1
        if self._in_flight[submitter] <= 0:
            del self._in_flight[submitter]
            self._turns.pop(submitter, None)

    def get(self, sub_id: int) -> Submission:
        """The submission with this id; ``KeyError`` if there is none."""
        return self._subs[sub_id]

    @property
    def submissions(self) -> list[Submission]:
        return list(self._subs.values())

    async def _judge(self, sub: Submission) -> None:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:  # one per loop, if restarted
            self._slots, self._slots_loop = asyncio.Semaphore(self._concurrency), loop
        if sub.queue_delay > 0:
            await asyncio.sleep(sub.queue_delay)
        turn = self._turns.setdefault(sub.submitter, asyncio.Lock()) if sub.submitter is not None else None
        if turn is not None:
            await turn.acquire()  # a student's submissions run one at a time: the others' get the slots
        try:
            async with self._slots:
                sub.status = Status.RUNNING
                sub.t_started = time.perf_counter()
                outcome = await sandbox.run(sub.code, self._limits(sub.time_limit), isolate=self.isolate)
                sub.output, sub.error, sub.limits = outcome.output, outcome.error, outcome.limits
                sub.verdict = Verdict(outcome.verdict)
                sub.t_finished = time.perf_counter()
        finally:
            if turn is not None:
                turn.release()
        if sub.ready_after is not None:
            hold = sub.t_submitted + sub.ready_after - time.perf_counter()
            if hold > 0:
                await asyncio.sleep(hold)
        sub.t_ready = time.perf_counter()
        sub.status = Status.DONE
        if sub.notify and self.on_done is not None:
            self.on_done(sub)

    async def aclose(self) -> None:
        """Stop every submission still waiting or running (their processes are killed)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._slots = self._slots_loop = None


JUDGE_KEY = web.AppKey("judge", Judge)


def add_routes(app: web.Application, judge: Judge) -> None:
    """``POST /api/judge/submissions`` and ``GET /api/judge/submissions/{id}``."""
    app[JUDGE_KEY] = judge
    app.router.add_post("/api/judge/submissions", create_submission)
    app.router.add_get("/api/judge/submissions/{id}", get_submission)


def _number(body: dict, name: str, high: float, where: str = "") -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise json_error(
            400,
            f"'{name}' must be a number of seconds from 0 to {high:g} {where}".strip(),
            f'send e.g. "{name}": {min(1.5, high):g}, or leave it out',
        )
    return float(value)


async def create_submission(request: web.Request) -> web.Response:
    body = await read_json(request, example='{"code": "print(6 * 7)"}')
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise json_error(400, "the JSON object needs a non-empty string field 'code'", 'send {"code": "print(6 * 7)"}')
    if len(code) > MAX_CODE:
        raise json_error(
            413, f"the code is {len(code)} characters; the judge takes {MAX_CODE}", "submit a shorter program"
        )
    judge = request.app[JUDGE_KEY]
    seat = request.get(SEAT_KEY)  # a classroom student's name; None for the teacher and in a lab of one's own
    if seat is None:
        queue_delay = _number(body, "queue_delay", MAX_QUEUE_DELAY)
        time_limit = _number(body, "time_limit", MAX_TIME_LIMIT)
        ready_after = _number(body, "ready_after", MAX_QUEUE_DELAY)
    else:  # a student's submission waits a few seconds at most, and runs within the class's time limit
        queue_delay = _number(body, "queue_delay", MAX_SEAT_DELAY, "in a classroom ")
        time_limit = _number(body, "time_limit", judge.time_limit, "in this class (the class's time limit) ")
        ready_after = _number(body, "ready_after", MAX_SEAT_DELAY, "in a classroom ")
    notify = body.get("notify")
    if notify is not None:
        try:
            valid_user(notify if isinstance(notify, str) else "")
        except ValueError:
            raise json_error(
                400, "'notify' must be a user name", 'send e.g. "notify": "meera" to get the verdict pushed'
            ) from None
        if seat is not None and notify != seat:
            raise json_error(
                403,
                f"only the teacher pushes notifications to someone else; you are {seat}, not {notify}",
                f'send "notify": "{seat}" to get your verdict pushed to you',
            )
    try:
        sub = judge.submit(
            code,
            queue_delay=queue_delay,
            time_limit=time_limit,
            ready_after=ready_after,
            notify=notify,
            submitter=seat,
        )
    except SubmitterBusy as exc:
        error = json_error(
            429,
            f"{exc}, so the class's queue stays open to everyone",
            f"poll one of yours until it is done, then submit again (in {exc.retry_after} s at the earliest)",
        )
        error.headers["Retry-After"] = str(exc.retry_after)
        raise error from None
    except JudgeBusy as exc:
        error = json_error(
            503, str(exc), f"wait for a result, then submit again in {exc.retry_after} s (the Retry-After header)"
        )
        error.headers["Retry-After"] = str(exc.retry_after)
        raise error from None
    data = sub.to_json()
    data["poll"] = f"/api/judge/submissions/{sub.id}"
    return web.json_response(data, status=202, headers={"Location": data["poll"]})


async def get_submission(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    judge = request.app[JUDGE_KEY]
    seat = request.get(SEAT_KEY)
    try:
        sub = judge.get(int(raw))
        if seat is not None and sub.submitter != seat:
            raise KeyError(raw)  # someone else's looks like one that does not exist: no id is confirmed
    except (ValueError, KeyError):  # how many there are is nobody's business: no range of ids here
        mine = f"{seat}, of yours " if seat is not None else ""
        raise json_error(
            404,
            f"no submission {mine}with id {raw!r} (the judge keeps the last {MAX_KEPT})",
            "use the id that your POST /api/judge/submissions answered",
        ) from None
    return web.json_response(sub.to_json())
