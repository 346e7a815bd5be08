"""The lab's own event loop, on a thread of its own.

Servers never run on the kernel's event loop: a cell that blocks (``time.sleep``,
a blocking HTTP call) would freeze them and deadlock. :class:`LoopThread` owns a
second loop on a daemon thread; any thread (the kernel, a widget callback on
JupyterLab's subshell thread, a test) hands it work: :meth:`LoopThread.call` for a
plain function, :meth:`LoopThread.run` for a coroutine (both wait for the result),
:meth:`LoopThread.call_soon` when nobody waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ..errors import LabNotRunningError

__all__ = ["LoopThread", "allow_nested_asyncio_run", "raise_open_file_limit"]

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running forever on its own daemon thread.

    Example::

        loop = LoopThread(name="demo")
        loop.start()
        loop.run(asyncio.sleep(0.1, result="done"))   # 'done'
        loop.close()
    """

    def __init__(self, *, name: str = "duplexlab-loop") -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._waiting: set[concurrent.futures.Future[Any]] = set()  # run() calls in flight
        self._waiting_lock = threading.Lock()
        self._stopping = False
        self._owns_loop = True

    @classmethod
    def running_here(cls, *, name: str = "duplexlab-adopted") -> LoopThread:
        """The event loop running on this thread, as a :class:`LoopThread` that does not own it.

        For code that already runs on a loop of its own (a cluster's server process) and
        hands that loop to what expects a :class:`LoopThread`. Its :meth:`close` leaves
        the loop alone.

        Raises:
            RuntimeError: no event loop runs on this thread.
        """
        adopted = cls(name=name)
        adopted.loop = asyncio.get_running_loop()
        adopted._thread = threading.current_thread()
        adopted._owns_loop = False
        return adopted

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread and wait until its loop runs. Starting twice is harmless."""
        if self.running:
            return
        loop = asyncio.new_event_loop()
        started = threading.Event()
        loop.call_soon(started.set)
        thread = threading.Thread(target=loop.run_forever, name=self.name, daemon=True)
        thread.start()
        started.wait()
        self.loop, self._thread = loop, thread
        self._stopping = False

    def _require(self) -> asyncio.AbstractEventLoop:
        if self.loop is None or not self.running:
            raise LabNotRunningError(f"the event-loop thread {self.name!r}")
        return self.loop

    @property
    def ident(self) -> int | None:
        """The loop thread's identifier (``threading.get_ident()`` on it); None when not started."""
        return self._thread.ident if self._thread is not None else None

    @property
    def on_loop_thread(self) -> bool:
        return self._thread is threading.current_thread()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop from any thread; return a concurrent future."""
        try:
            loop = self._require()
        except LabNotRunningError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block this thread until it finishes.

        An interrupt (``KeyboardInterrupt``, as Kernel → Interrupt raises) or a
        timeout while waiting cancels the coroutine on the loop.

        Raises:
            LabNotRunningError: the loop is not running, or stopped while this call waited.
            TimeoutError: no result within ``timeout`` seconds.
            RuntimeError: called on the loop's own thread (it would wait on itself).
        """
        if self.on_loop_thread:
            coro.close()
            raise RuntimeError("LoopThread.run() would deadlock when called on its own loop")
        return self._wait(self.submit(coro), timeout)

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Call the plain function ``fn(*args)`` on the loop and return its result, from any thread.

        The one way to do loop-only work (touch a server, a tap, a store bound to
        the loop) from a cell or a widget callback. On the loop's own thread it
        simply calls ``fn``. Elsewhere it waits like :meth:`run`: an interrupt or
        a timeout while ``fn`` has not started yet means it never runs, and a
        loop that stops while waiting raises ``LabNotRunningError``. An exception
        raised by ``fn`` is raised here.

        Example::

            loop.call(len, [1, 2, 3])            # 3, computed on the loop's thread
            loop.call(store.clear, timeout=5)
        """
        if self.on_loop_thread:
            return fn(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def on_loop() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the caller gave up before the loop got to it
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller, who raises it
                future.set_exception(exc)

        loop = self._require()
        try:
            loop.call_soon_threadsafe(on_loop)
        except RuntimeError:  # closed between the check and the call
            raise LabNotRunningError(f"the event-loop thread {self.name!r}") from None
        return self._wait(future, timeout)

    def _wait(self, future: concurrent.futures.Future[T], timeout: float | None) -> T:
        """Block this thread on ``future`` (work on the loop); cancel it when the wait is given up."""
        with self._waiting_lock:
            self._waiting.add(future)
        future.add_done_callback(self._forget)
        try:
            return future.result(timeout)
        except (KeyboardInterrupt, SystemExit):
            # Kernel → Interrupt lands here, in the waiting thread: stop the work on the loop too
            future.cancel()
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer from the lab within {timeout} s") from None
        except concurrent.futures.CancelledError:
            if self.running and not self._stopping:
                raise
            raise LabNotRunningError(
                f"the event-loop thread {self.name!r} (it stopped while this call was waiting)"
            ) from None

    def wrap(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run ``coro`` on the loop; await the result from another event loop."""
        return asyncio.wrap_future(self.submit(coro))

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` on the loop thread, from any thread."""
        self._require().call_soon_threadsafe(callback, *args)

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._waiting_lock:
            self._waiting.discard(future)

    def stop_waiting(self) -> None:
        """Cancel every ``run()`` call in flight; each raises ``LabNotRunningError`` in its thread.

        The first step of a close: calls that wait on work the loop is about
        to drop end at once, with an error that says so.
        """
        self._stopping = True
        with self._waiting_lock:
            waiting = list(self._waiting)
        for future in waiting:
            future.cancel()

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and join the thread. Twice is harmless."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        self.loop, self._thread = None, None
        if not self._owns_loop:
            return
        if thread.is_alive():

            async def cancel_all() -> None:
                me = asyncio.current_task()
                tasks = [t for t in asyncio.all_tasks() if t is not me]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await loop.shutdown_asyncgens()
                await loop.shutdown_default_executor()  # the worker threads that drew plots

            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if not loop.is_running():
            loop.close()


def allow_nested_asyncio_run() -> bool:
    """Let ``asyncio.run(...)`` work inside a notebook cell (via nest-asyncio2).

    Only acts when this thread already runs an event loop, as a Jupyter kernel's
    does; in a plain script it changes nothing. Returns whether it patched.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    import nest_asyncio2

    nest_asyncio2.apply(loop)
    return True


def raise_open_file_limit(wanted: int = 16384) -> int:
    """Let this process open up to ``wanted`` sockets and files, if the system allows it.

    A classroom of 1,000 clients needs several thousand sockets in one process;
    many systems start processes with a soft limit of 1,024 (macOS: 256) and a
    much higher hard limit, which a process may raise itself to. Returns the
    limit in force afterwards (unchanged where the ``resource`` module is missing).
    """
    try:
        import resource
    except ImportError:  # Windows
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
