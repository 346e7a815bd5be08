"""Lesson 5's browser client: a WebSocket opened by the page when it mounts, closed when it unmounts."""

from __future__ import annotations

import time
from pathlib import Path

import anywidget
import traitlets

from ...clients.seat import Seat
from ...lab import Lab
from .base import TicketedWidget, widget_ids

__all__ = ["BrowserSocket", "SeatSocket"]


JS = Path(__file__).parent.parent / "js"


_BROWSER_SOCKET_ESM = (JS / "browser_socket.js").read_text(encoding="utf-8")


class BrowserSocket(TicketedWidget):
    """A WebSocket client that runs in the browser, inside the notebook.

    Showing it (mounting) opens a ``WebSocket`` from the page to the lab at
    once: the lab lets it in on a one-use ticket that the kernel put in the
    widget's state (see :mod:`duplexlab.runtime.policy`), so it never waits for a busy
    kernel. Clearing the output or re-running the cell (unmounting) closes it
    with code 1000, reason ``"unmount"``. Messages typed into it are sent as
    chat messages; what arrives is listed, and kept in ``received``.

    Example::

        browser = dl.widgets.BrowserSocket(lab, "/chat?name=priya")
        browser             # shows it: the browser connects
        browser.wait_open() # in the next cell: waits, on the lab's side, until it has
    """

    _esm = _BROWSER_SOCKET_ESM

    @staticmethod
    def javascript() -> str:
        """The JavaScript the browser runs for this widget (``duplexlab/show/js/browser_socket.js``)."""
        return _BROWSER_SOCKET_ESM

    received = traitlets.List(traitlets.Unicode()).tag(sync=True)
    opened = traitlets.Int(0).tag(sync=True)

    def __init__(self, lab: Lab, path: str, **kwargs) -> None:
        self.path = path
        self.t_created = time.perf_counter()
        super().__init__(lab, path, f"browser widget {next(widget_ids)} ({path})", **kwargs)

    def records(self) -> list:
        """The lab's records of the sockets this widget's views opened, oldest first."""

        async def mine() -> list:
            return [r for r in self._lab.websockets.records if r.owner == self.owner]

        return self._lab.run(mine(), 5)

    def wait_open(self, timeout: float = 3.0) -> bool:
        """Wait, on the lab's side, until a view of this widget has its socket open.

        Prints one line either way: when it opened, or that no browser shows
        the notebook (a headless run), so nothing below involves the browser.
        """
        deadline = time.perf_counter() + timeout
        while True:
            live = [r for r in self.records() if r.open]
            if live:
                print(
                    f"the browser's socket is open ({(live[-1].t_open - self.t_created) * 1000:.0f} ms "
                    "after the widget was created)"
                )
                return True
            if time.perf_counter() > deadline:
                print(
                    f"no browser opened this widget's socket within {timeout:g} s: nothing shows "
                    "this notebook (a headless run?), so the cells below run without it"
                )
                return False
            time.sleep(0.02)

    def report(self) -> None:
        """Say what became of this widget's sockets: still open, or closed with which code."""
        found = self.records()
        if not found:
            print("no browser has opened this widget's socket (a headless run?)")
            return
        last = found[-1]
        if last.open:
            print(
                f"{last.path}: still open, {time.perf_counter() - last.t_open:.1f} s; clear the "
                "widget's output (right-click it → Clear Cell Output), then run this cell again"
            )
        else:
            print(
                f"{last.path}: closed with {last.close_code} {last.close_reason!r} after "
                f"{last.t_close - last.t_open:.1f} s open"
            )


class SeatSocket(anywidget.AnyWidget):
    """A student's browser WebSocket to the teacher's classroom lab: ``dl.widgets.SeatSocket(seat, path)``.

    The page comes from the student's own ``localhost`` Jupyter, so its ``Origin``
    says nothing about who the student is: the kernel asks the teacher's lab for a
    one-use ticket with the student's credential, and the page offers it when it
    connects (as a subprotocol, never in the URL). A reloaded page needs a new
    ticket: run the widget's cell again.
    """

    _esm = _BROWSER_SOCKET_ESM
    url = traitlets.Unicode("").tag(sync=True)
    ticket = traitlets.Unicode("").tag(sync=True)
    received = traitlets.List(traitlets.Unicode()).tag(sync=True)
    opened = traitlets.Int(0).tag(sync=True)

    def __init__(self, seat: Seat, path: str, **kwargs) -> None:
        self.seat = seat
        super().__init__(url=seat.ws_url + path, ticket=seat.ticket(), **kwargs)
