"""What the lab hands out, it owns: one place that closes everything, fast.

Thread rules (the same everywhere in the package):

- Servers and clients run on loop threads (:class:`~duplexlab.runtime.loop.LoopThread`);
  their loop objects are touched only on their loop. Any other thread (the
  kernel, JupyterLab's widget subshell, a test) hands work over in one of three ways,
  all on the :class:`~duplexlab.runtime.loop.LoopThread`:

  - ``loop.call(fn, *args, timeout=...)`` runs a plain function there and returns its
    result (inline when already on the loop): the way to touch loop-only state;
  - ``loop.run(coro, timeout)`` runs a coroutine there and returns its result;
  - ``loop.call_soon(fn, *args)`` when nobody waits for the outcome.

  ``call`` and ``run`` cancel the work when the wait is interrupted or times out,
  and raise ``LabNotRunningError`` when the loop stops. Nothing else
  (``run_coroutine_threadsafe``, ``async def`` wrappers around plain code, checks of
  which thread we are on) hands work across. Every public method says when it is not
  safe from any thread.
- Blocking clients made without a lab (``dl.Client(url)``, ``dl.ResilientClient(url)``)
  share one package-owned loop thread, :func:`shared_loop`, instead of one
  thread each. ``dl.stop()`` and the end of the process close it.
- Everything handed out is registered with an :class:`Owner`; ``close_all``
  closes all of it at once (not one after another), each with a short grace,
  then aborts what is still open. ``dl.stop()`` takes well under a second
  whatever is open.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol, TypeVar

from .loop import LoopThread

__all__ = ["GRACE", "MAX_CLOSERS", "Closeable", "Owner", "close_shared", "shared_loop", "shared_owner"]

GRACE = 0.4  # seconds everything closing together may take before what's left is aborted
MAX_CLOSERS = 32  # threads closing things at once


class Closeable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closeable)


class Owner:
    """Things to close together: held strongly (sockets, followers) or weakly (clients that close when dropped).

    Example::

        owner = Owner()
        owner.own(client, weak=True)
        owner.close_all()     # closes every thing still open, concurrently
    """

    def __init__(self, name: str = "duplexlab") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._strong: list[Closeable] = []
        self._weak: weakref.WeakSet[Closeable] = weakref.WeakSet()

    def own(self, thing: C, *, weak: bool = False) -> C:
        """Register ``thing`` (anything with ``close()``, optionally ``abort()``); returns it."""
        with self._lock:
            if weak:
                self._weak.add(thing)
            else:
                # forget what closed meanwhile (a socket its user closed), so re-run cells don't pile up
                self._strong = [t for t in self._strong if not getattr(t, "closed", False)]
                self._strong.append(thing)
        return thing

    def release(self, thing: Closeable) -> None:
        """Forget ``thing`` (it was closed by its user)."""
        with self._lock:
            self._weak.discard(thing)
            if thing in self._strong:
                self._strong.remove(thing)

    def __len__(self) -> int:
        with self._lock:
            return len(self._strong) + len(self._weak)

    def close_all(self, grace: float = GRACE) -> None:
        """Close everything owned, all at once; after ``grace`` seconds abort what is still closing."""
        with self._lock:
            things = [*self._strong, *self._weak]
            self._strong.clear()
            self._weak = weakref.WeakSet()
        if not things:
            return
        # at most MAX_CLOSERS threads at once, each closing its share of the things
        groups = [things[k::MAX_CLOSERS] for k in range(min(MAX_CLOSERS, len(things)))]
        closers = [
            threading.Thread(target=_close_each, args=(group,), daemon=True, name=f"{self.name}-close")
            for group in groups
        ]
        for closer in closers:
            closer.start()
        deadline = time.monotonic() + grace
        for group, closer in zip(groups, closers):
            closer.join(max(0.0, deadline - time.monotonic()))
            if closer.is_alive():
                for thing in group:
                    if hasattr(thing, "abort"):
                        _quietly(thing.abort)


def _close_each(things: list[Closeable]) -> None:
    for thing in things:
        _quietly(thing.close)


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # closing what is already broken: nothing left to do
        pass


_shared_lock = threading.Lock()
_shared: LoopThread | None = None
_shared_owner = Owner("duplexlab-shared")


def shared_loop() -> LoopThread:
    """The loop thread that blocking clients made without a lab share (started on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = LoopThread(name="duplexlab-clients")
            _shared.start()
        return _shared


def shared_owner() -> Owner:
    """The owner of what was handed out without a lab; closed by ``dl.stop()``."""
    return _shared_owner


def close_shared(grace: float = GRACE) -> None:
    """Close everything made without a lab, then the shared loop thread. Twice is harmless."""
    global _shared
    _shared_owner.close_all(grace)
    with _shared_lock:
        loop, _shared = _shared, None
    if loop is not None:
        loop.close(timeout=grace)


atexit.register(close_shared)
