"""A real code judge, like the one behind LeetCode's "Run" button.

``POST /api/judge/submissions`` with ``{"code": "print(6 * 7)"}`` answers
``202 Accepted`` and an id at once; the judge then runs the code in a separate
Python process with a time limit. ``GET /api/judge/submissions/{id}`` answers
``queued``, ``running`` or ``done`` (with the output, or the error, or
``time-limit`` for code that ran too long). The client must keep asking:
that is polling.

``queue_delay`` (seconds, in the request or as the judge's default) makes the
submission wait before it runs, as on a busy judge. ``ready_after`` (seconds)
holds the finished result until that long after the submission, so a lesson can
make results arrive at the moment it chooses (to the millisecond), whatever
the code's own run time.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import sys
import time
from dataclasses import dataclass, field

from aiohttp import web

from .webapp import json_error, read_json

__all__ = ["Judge", "Status", "Submission", "Verdict", "add_routes"]

MAX_CODE = 10_000
MAX_OUTPUT = 10_000
MAX_QUEUE_DELAY = 60.0
MAX_TIME_LIMIT = 10.0


class Status(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Verdict(str, enum.Enum):
    OK = "ok"
    ERROR = "error"
    TIME_LIMIT = "time-limit"


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
    t_submitted: float = field(default_factory=time.perf_counter)
    t_started: float | None = None
    t_finished: float | None = None
    t_ready: float | None = None

    def to_json(self) -> dict:
        data = {
            "id": self.id,
            "status": self.status.value,
            "t_submitted": self.t_submitted,
        }
        if self.status is Status.DONE:
            data.update(
                verdict=self.verdict.value if self.verdict else None,
                output=self.output,
                error=self.error,
                t_ready=self.t_ready,
                run_seconds=round((self.t_finished or 0) - (self.t_started or 0), 4),
            )
        return data


def _clip(text: bytes) -> str:
    out = text.decode("utf-8", errors="replace")
    if len(out) > MAX_OUTPUT:
        out = out[:MAX_OUTPUT] + f"\n… ({len(out) - MAX_OUTPUT} more characters cut)"
    return out


class Judge:
    """Runs submitted Python code in child processes, a few at a time.

    Args:
        time_limit: seconds a submission may run before it is stopped.
        queue_delay: default seconds a submission waits before it runs.
        concurrency: how many submissions run at once.
    """

    def __init__(
        self, *, time_limit: float = 2.0, queue_delay: float = 0.0, concurrency: int = 4
    ) -> None:
        self.time_limit = time_limit
        self.queue_delay = queue_delay
        self._slots: asyncio.Semaphore | None = None
        self._concurrency = concurrency
        self._ids = itertools.count(1)
        self._subs: dict[int, Submission] = {}
        self._tasks: set[asyncio.Task] = set()

    def submit(
        self,
        code: str,
        *,
        queue_delay: float | None = None,
        time_limit: float | None = None,
        ready_after: float | None = None,
    ) -> Submission:
        """Accept ``code`` and start judging it in the background (call on the lab loop)."""
        sub = Submission(
            next(self._ids),
            code,
            self.queue_delay if queue_delay is None else queue_delay,
            self.time_limit if time_limit is None else time_limit,
            ready_after,
        )
        self._subs[sub.id] = sub
        task = asyncio.get_running_loop().create_task(self._judge(sub))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sub

    def get(self, sub_id: int) -> Submission:
        """The submission with this id; ``KeyError`` if there is none."""
        return self._subs[sub_id]

    @property
    def submissions(self) -> list[Submission]:
        return list(self._subs.values())

    async def _judge(self, sub: Submission) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        if sub.queue_delay > 0:
            await asyncio.sleep(sub.queue_delay)
        async with self._slots:
            sub.status = Status.RUNNING
            sub.t_started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-c", sub.code,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), sub.time_limit)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                sub.verdict = Verdict.TIME_LIMIT
                sub.error = f"stopped after the time limit of {sub.time_limit:g} s"
            except asyncio.CancelledError:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                raise
            else:
                sub.output, sub.error = _clip(out), _clip(err)
                sub.verdict = Verdict.OK if proc.returncode == 0 else Verdict.ERROR
            sub.t_finished = time.perf_counter()
        if sub.ready_after is not None:
            hold = sub.t_submitted + sub.ready_after - time.perf_counter()
            if hold > 0:
                await asyncio.sleep(hold)
        sub.t_ready = time.perf_counter()
        sub.status = Status.DONE

    async def aclose(self) -> None:
        """Stop every submission still waiting or running (their processes are killed)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


JUDGE_KEY = web.AppKey("judge", Judge)


def add_routes(app: web.Application, judge: Judge) -> None:
    """``POST /api/judge/submissions`` and ``GET /api/judge/submissions/{id}``."""
    app[JUDGE_KEY] = judge
    app.router.add_post("/api/judge/submissions", create_submission)
    app.router.add_get("/api/judge/submissions/{id}", get_submission)


def _number(body: dict, name: str, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise json_error(400, f"'{name}' must be a number of seconds from 0 to {high:g}",
                         f'send e.g. "{name}": 1.5, or leave it out')
    return float(value)


async def create_submission(request: web.Request) -> web.Response:
    body = await read_json(request, example='{"code": "print(6 * 7)"}')
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise json_error(400, "the JSON object needs a non-empty string field 'code'",
                         'send {"code": "print(6 * 7)"}')
    if len(code) > MAX_CODE:
        raise json_error(413, f"the code is {len(code)} characters; the judge takes {MAX_CODE}",
                         "submit a shorter program")
    queue_delay = _number(body, "queue_delay", MAX_QUEUE_DELAY)
    time_limit = _number(body, "time_limit", MAX_TIME_LIMIT)
    ready_after = _number(body, "ready_after", MAX_QUEUE_DELAY)
    sub = request.app[JUDGE_KEY].submit(
        code, queue_delay=queue_delay, time_limit=time_limit, ready_after=ready_after
    )
    data = sub.to_json()
    data["poll"] = f"/api/judge/submissions/{sub.id}"
    return web.json_response(data, status=202, headers={"Location": data["poll"]})


async def get_submission(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    judge = request.app[JUDGE_KEY]
    try:
        sub = judge.get(int(raw))
    except (ValueError, KeyError):
        n = len(judge.submissions)
        known = f"ids 1 to {n} exist" if n else "nothing has been submitted yet"
        raise json_error(404, f"no submission with id {raw!r}",
                         f"{known}; use the id that POST /api/judge/submissions answered") from None
    return web.json_response(sub.to_json())
