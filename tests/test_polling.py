"""The polling loop and its theory."""

import asyncio
import time

import pytest

from duplexlab.clients.polling import expected_polls, poll
from duplexlab.clients.reply import Reply

from .helpers import seconds


def fake_reply(done: bool) -> Reply:
    t = time.perf_counter()
    body = b'{"status": "done"}' if done else b'{"status": "running"}'
    return Reply("GET", "/x", 200, {}, body, t, t)


def on_time(sent: list[float], schedule: list[float]) -> None:
    """Each request left at its time on the clock: never early, and late only by a busy machine's wake-up."""
    assert len(sent) == len(schedule), sent
    assert all(due - 0.001 <= t <= due + seconds(0.02) for t, due in zip(sent, schedule)), (sent, schedule)


def test_clock_driven_cadence_and_counts():
    """Requests leave every interval; the run counts requests, wasted polls, and stops at done."""
    answers = iter([False, False, False, True])

    async def send():
        return fake_reply(next(answers))

    run = asyncio.run(poll(send, interval=0.05))
    assert (run.requests, run.wasted) == (4, 3)
    sent = [r.t_sent - run.t_start for r in run.replies]
    on_time(sent, [0, 0.05, 0.10, 0.15])


def test_backoff_grows_gaps_and_deadline_gives_up():
    """With backoff 2 the gaps double; past the deadline the run gives up."""

    async def send():
        return fake_reply(False)

    run = asyncio.run(poll(send, interval=0.02, backoff=2, deadline=0.35))
    assert run.gave_up and run.done is None and run.requests == 5
    on_time([r.t_sent - run.t_start for r in run.replies], [0, 0.02, 0.06, 0.14, 0.30])  # gaps .02, .04, .08, .16


def test_bad_settings_are_refused():
    """A zero interval or a shrinking backoff raise ValueError."""

    async def never() -> Reply:
        raise AssertionError("bad settings are refused before any request")

    with pytest.raises(ValueError, match="positive"):
        asyncio.run(poll(never, interval=0))
    with pytest.raises(ValueError, match="backoff"):
        asyncio.run(poll(never, interval=1, backoff=0.5))


@pytest.mark.parametrize("wait, interval, polls", [(7, 1, 8), (7.05, 1, 9), (0, 1, 1), (0.5, 1, 2), (2, 0.5, 5)])
def test_expected_polls(wait, interval, polls):
    """Polls at 0, i, 2i…: the first at or after `wait` is the last one."""
    assert expected_polls(wait, interval) == polls
