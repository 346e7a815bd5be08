"""Lesson 5's browser client: a WebSocket opened by the page when it mounts, closed when it unmounts."""

from __future__ import annotations

import logging
import threading
import time

import anywidget
import traitlets

from ...clients.seat import Seat
from ...feedback import fit
from ...lab import Lab
from ..projector import dress
from ..where import frontend
from .base import TicketedWidget, widget_ids, with_route
from .bridge import CommBridge

__all__ = ["BrowserSocket", "SeatSocket"]

logger = logging.getLogger(__name__)


_BROWSER_SOCKET_ESM = with_route("browser_socket.js")

WAYS = {
    "direct": "straight to the lab",
    "proxy": "through the notebook server's proxy",
    "bridge": "over the widget's comm, the kernel holding the WebSocket",
}


class BrowserSocket(TicketedWidget):
    """A WebSocket client that runs in the browser, inside the notebook.

    Showing it (mounting) opens a ``WebSocket`` from the page to the lab at
    once: the lab lets it in on a one-use ticket that the kernel put in the
    widget's state (see :mod:`duplexlab.runtime.policy`), so it never waits for a busy
    kernel. Clearing the output or re-running the cell (unmounting) closes it
    with code 1000, reason ``"unmount"``. Messages typed into it are sent as
    chat messages; what arrives is listed, and kept in ``received``.

    The page finds its way to the lab (``js/route.js``): straight to the lab's
    port when the browser is on the kernel's machine; through the notebook
    server's ``jupyter-server-proxy`` on a JupyterHub or Binder; otherwise over
    the widget's comm, the kernel holding the real WebSocket
    (:mod:`~duplexlab.show.widgets.bridge`: it joins when no cell is running).
    The widget says which; the lab's record of the socket has it as ``via``.

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
        # Colab's page is never on the kernel's machine and has no Jupyter proxy: only the comm.
        kwargs.setdefault("routes", ["bridge"] if frontend().name == "Colab" else ["direct", "proxy", "bridge"])
        super().__init__(lab, path, f"browser widget {next(widget_ids)} ({path})", **kwargs)
        self.bridge = CommBridge(self, lab, path, self.owner)
        dress(self)  # the course's text sizes, projector mode's too

    def close(self) -> None:
        self.bridge.close()
        super().close()

    def records(self) -> list:
        """The lab's records of the sockets this widget's views opened, oldest first."""

        async def mine() -> list:
            return [r for r in self._lab.websockets.records if r.owner == self.owner]

        return self._lab.run(mine(), 5)

    def wait_open(self, timeout: float = 3.0) -> None:
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
                    f"after the widget was created, {WAYS.get(live[-1].via, live[-1].via)})"
                )
                return
            if time.perf_counter() > deadline:
                print(fit(self._not_open_line(timeout)))  # 100 columns at most, broken between words
                return
            time.sleep(0.02)

    def _not_open_line(self, timeout: float) -> str:
        """One plain line: why no socket is open yet, and what to do."""
        here = frontend()
        if here.name == "Colab":
            return (
                "not open yet: in Colab the widget goes over its comm and joins when the notebook is idle; "
                "run this cell again after Run All"
            )
        return (
            f"not open within {timeout:g} s: if the widget goes over its comm, it joins when the notebook is idle "
            "(run this cell again after Run All); with no browser (a headless run) the cells below go on without it"
        )

    def report(self) -> None:
        """Say what became of this widget's sockets: still open, or closed with which code."""
        found = self.records()
        if not found:
            print("no browser has opened this widget's socket (a headless run?)")
            return
        last = found[-1]
        if last.open:
            print(
                fit(
                    f"{last.path}: still open, {time.perf_counter() - last.t_open:.1f} s; clear the "
                    "widget's output (right-click it → Clear Cell Output), then run this cell again"
                )
            )
        else:
            print(
                f"{last.path}: closed with {last.close_code} {last.close_reason!r} after "
                f"{last.t_close - last.t_open:.1f} s open ({WAYS.get(last.via, last.via)})"
            )


class SeatSocket(anywidget.AnyWidget):
    """A student's browser WebSocket to the teacher's classroom lab: ``dl.widgets.SeatSocket(seat, path)``.

    The page comes from the student's own ``localhost`` Jupyter, so its ``Origin``
    says nothing about who the student is: the kernel asks the teacher's lab for a
    one-use ticket with the student's credential, and the page offers it when it
    connects (as a subprotocol, never in the URL). Once a view's socket has opened
    on it, the kernel fetches the next ticket the same way, so a reloaded page's
    view rejoins without running the cell again (as the teacher's widgets do).
    """

    _esm = _BROWSER_SOCKET_ESM
    url = traitlets.Unicode("").tag(sync=True)
    ticket = traitlets.Unicode("").tag(sync=True)
    routes = traitlets.List(traitlets.Unicode(), ["direct"]).tag(sync=True)  # the teacher's lab, on the LAN
    route = traitlets.Unicode("").tag(sync=True)
    received = traitlets.List(traitlets.Unicode()).tag(sync=True)
    opened = traitlets.Int(0).tag(sync=True)

    def __init__(self, seat: Seat, path: str, **kwargs) -> None:
        self.seat = seat
        super().__init__(url=seat.ws_url + path, ticket=seat.ticket(), **kwargs)
        dress(self)  # the course's text sizes, projector mode's too
        self.observe(self._renew, names="opened")  # a view's socket opened: its ticket is spent

    def _renew(self, change: object = None) -> threading.Thread:
        """Fetch the next ticket with the seat's credential, on a thread: the teacher's laptop may be slow or gone."""

        def fetch() -> None:
            try:
                self.ticket = self.seat.ticket()
            except (
                Exception
            ):  # the teacher's lab is gone, or removed this student: a reloaded view says it couldn't open
                logger.debug(
                    "no next ticket for %s's %s: a reloaded view cannot open", self.seat.name, self.url, exc_info=True
                )

        fetcher = threading.Thread(target=fetch, name="duplexlab-seat-ticket", daemon=True)
        fetcher.start()
        return fetcher
