"""LoopThread: the lab's loop on a thread of its own, and the one way to hand it work from another thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from duplexlab.errors import LabNotRunningError
from duplexlab.runtime.loop import LoopThread

from .helpers import seconds, wait_for


@pytest.fixture
def loop():
    """A loop thread of its own for one test, closed afterwards."""
    thread = LoopThread(name="test-loop")
    thread.start()
    yield thread
    thread.close()


def block(loop: LoopThread) -> threading.Event:
    """Keep ``loop`` busy until the returned event is set (so nothing handed to it starts)."""
    release, busy = threading.Event(), threading.Event()

    def hold() -> None:
        busy.set()
        release.wait(seconds(10))

    loop.call_soon(hold)
    assert busy.wait(seconds(5))
    return release


def test_call_runs_a_plain_function_on_the_loop_thread_and_returns_its_result(loop):
    """From another thread, call() runs fn(*args) on the loop's thread and hands back what it returned."""
    where = loop.call(lambda a, b: (threading.current_thread().name, a + b), 2, 3, timeout=seconds(5))
    assert where == ("test-loop", 5)


def test_call_on_the_loop_thread_runs_inline(loop):
    """On the loop's own thread, call() calls fn at once (no deadlock, same thread)."""

    def outer() -> tuple[str, str]:
        inner = loop.call(lambda: threading.current_thread().name)
        return threading.current_thread().name, inner

    assert loop.call(outer, timeout=seconds(5)) == ("test-loop", "test-loop")


def test_call_without_a_running_loop_raises_lab_not_running():
    """A loop never started, or closed, refuses with LabNotRunningError (and fn never runs)."""
    ran: list[int] = []
    idle = LoopThread(name="never-started")
    with pytest.raises(LabNotRunningError):
        idle.call(ran.append, 1)
    idle.start()
    idle.close()
    with pytest.raises(LabNotRunningError):
        idle.call(ran.append, 2)
    assert ran == []


def test_an_exception_in_fn_is_raised_in_the_calling_thread(loop):
    """What fn raises on the loop is raised by call(), with its type and message."""

    def fails() -> None:
        raise ValueError("no such user")

    with pytest.raises(ValueError, match="no such user"):
        loop.call(fails, timeout=seconds(5))
    assert loop.call(lambda: "still serving", timeout=seconds(5)) == "still serving"


def test_a_timeout_before_fn_starts_means_it_never_runs(loop):
    """When the loop is busy past the timeout, call() raises TimeoutError and fn is dropped, not run late."""
    ran: list[int] = []
    release = block(loop)
    with pytest.raises(TimeoutError, match="no answer"):
        loop.call(ran.append, 1, timeout=0.1)
    release.set()
    assert loop.call(lambda: "after", timeout=seconds(5)) == "after"
    assert ran == []


def test_an_interrupt_while_waiting_cancels_fn(loop):
    """Kernel → Interrupt (SIGINT) while call() waits raises KeyboardInterrupt, and fn never runs."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    ran: list[int] = []
    release = block(loop)

    def interrupt_when_waiting() -> None:
        wait_for(lambda: loop._waiting, timeout=5, why=lambda: "call() never started waiting")
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt_when_waiting)
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.call(ran.append, 1, timeout=seconds(10))
    finally:
        sender.join()
        release.set()
    assert loop.call(lambda: "after", timeout=seconds(5)) == "after"
    assert ran == []


def test_stopping_the_loop_ends_a_waiting_call_with_lab_not_running(loop):
    """A call waiting on a busy loop when the lab stops ends with LabNotRunningError, as run() does."""
    release = block(loop)
    errors: list[BaseException] = []

    def waiter() -> None:
        try:
            loop.call(time.perf_counter, timeout=seconds(10))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_for(lambda: loop._waiting, timeout=5)
    loop.stop_waiting()
    thread.join(seconds(5))
    release.set()
    assert [type(e) for e in errors] == [LabNotRunningError]


def test_a_loop_running_here_can_be_adopted_and_is_left_running_by_close():
    """running_here() wraps this thread's loop: call() runs inline, close() leaves the loop alone."""
    import asyncio

    from duplexlab.apps.notifications import NotificationStore

    async def main() -> tuple[bool, int, bool]:
        adopted = LoopThread.running_here()
        store = NotificationStore()
        store.bind(asyncio.get_running_loop())  # as a cluster's server process binds its own loop
        note = store.add("asha", "hello")
        inline = adopted.call(lambda: adopted.on_loop_thread)
        adopted.close()
        await asyncio.sleep(0)
        return inline, note.id, asyncio.get_running_loop().is_running()

    assert asyncio.run(main()) == (True, 1, True)
