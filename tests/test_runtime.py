"""The lab's own event-loop thread."""

import asyncio
import threading
import time

import pytest

from duplexlab.errors import LabNotRunningError
from duplexlab.runtime.loop import LoopThread

from .helpers import seconds


def test_run_returns_the_coroutine_result():
    """A coroutine submitted from this thread runs on the loop thread and returns."""
    loop = LoopThread(name="duplexlab-test")
    loop.start()
    try:

        async def where():
            return threading.current_thread().name

        assert loop.run(where(), seconds(5)) == "duplexlab-test"
    finally:
        loop.close()


def test_start_and_close_twice_are_harmless():
    """Starting twice keeps one thread; closing twice raises nothing."""
    loop = LoopThread(name="duplexlab-twice")
    loop.start()
    first = loop._thread
    assert first is not None
    loop.start()
    assert loop._thread is first
    loop.close()
    loop.close()
    assert not first.is_alive()


def test_call_soon_from_another_thread_wakes_the_loop_at_once():
    """An asyncio.Event set through call_soon from a foreign thread is seen promptly."""
    loop = LoopThread(name="duplexlab-signal")
    loop.start()
    try:
        event = loop.run(_make_event())
        waiter = loop.submit(event.wait())
        t0 = time.perf_counter()
        threading.Thread(target=loop.call_soon, args=(event.set,)).start()
        waiter.result(seconds(2))
        assert time.perf_counter() - t0 < seconds(1)
    finally:
        loop.close()


async def _make_event():
    return asyncio.Event()


def test_using_a_closed_loop_says_what_to_do():
    """Work handed to a stopped loop raises LabNotRunningError with the fix in it."""
    loop = LoopThread(name="duplexlab-closed")
    with pytest.raises(LabNotRunningError, match=r"dl\.start\(\)"):
        loop.run(asyncio.sleep(0))


def test_run_on_its_own_thread_refuses_instead_of_deadlocking():
    """LoopThread.run() called from the loop's own thread raises instead of hanging."""
    loop = LoopThread(name="duplexlab-self")
    loop.start()
    try:

        async def inner():
            with pytest.raises(RuntimeError, match="deadlock"):
                loop.run(asyncio.sleep(0))
            return True

        assert loop.run(inner(), seconds(5))
    finally:
        loop.close()


def test_close_cancels_pending_tasks():
    """close() ends tasks still sleeping on the loop, and the thread exits."""
    loop = LoopThread(name="duplexlab-pending")
    loop.start()
    future = loop.submit(asyncio.sleep(3600))
    thread = loop._thread
    assert thread is not None
    loop.close()
    assert future.cancelled()
    assert not thread.is_alive()


def test_open_file_limit_is_raised_up_to_what_is_asked():
    """raise_open_file_limit() lifts a low soft limit (never above the hard one)."""
    import resource

    from duplexlab.runtime.loop import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        got = raise_open_file_limit(4096)
        assert got == min(4096, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
