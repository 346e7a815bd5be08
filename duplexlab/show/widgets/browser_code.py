"""``dl.show.BrowserCode``: the browser's own code, run in the student's page against the lab.

A snippet of JavaScript, written as the body of a React ``useEffect``: it runs when the
widget is shown (the page mounts it) and again on **Run**; it may ``return`` a cleanup
function, which runs on **Stop**, before the next run and when the output is cleared or
the widget closes (unmount). It gets three names and nothing else: ``LAB`` (the base URL
of the lab's HTTP server as this page reaches it), ``WS`` (the same for its WebSocket
server) and ``log(...)``. It calls ``fetch``, ``EventSource`` and ``WebSocket`` itself.

It runs in the lab's runner page (``/_duplexlab/runner``) in an invisible frame, unlocked
by a one-use ticket from the widget's state: rule 4 of :mod:`duplexlab.runtime.policy`.
``through=tap`` (a tap from ``lab.tap(websockets=True)``) sends everything through the tap;
``diagram=True`` shows the tap's live sequence diagram under the code (``**diagram_options``
go to :class:`~duplexlab.show.Sequence`), so the student sees what the snippet sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import traitlets

from ...lab import Lab
from ...runtime.policy import RUNNER_OWNER
from ...tap import Tap
from ..projector import dress
from ..where import frontend
from .base import TicketedWidget, widget_ids, with_route

__all__ = ["BrowserCode"]

NO_PAGE_AFTER = 1.5  # seconds: with no runner unlocked by then, no browser shows the widget
WAYS = {"direct": "straight from this page", "proxy": "through the notebook server's proxy"}


class CodeEditor(TicketedWidget):
    """The widget's view in the page: the snippet, Run, Stop and the log (``js/browser_code.js``)."""

    _esm = with_route("browser_code.js")
    code = traitlets.Unicode("").tag(sync=True)
    lab_url = traitlets.Unicode("").tag(sync=True)  # the HTTP base the page loads the runner from
    ws_base = traitlets.Unicode("").tag(sync=True)  # the WebSocket base (the same tap, or the lab's)
    where = traitlets.Unicode("").tag(sync=True)
    logs = traitlets.List(traitlets.Unicode()).tag(sync=True)
    runs = traitlets.Int(0).tag(sync=True)
    unlocked = 0  # runners a page unlocked with this widget's tickets

    def _renew(self) -> None:  # the lab took a ticket of ours: a page's runner is unlocked
        self.unlocked += 1
        super()._renew()


class BrowserCode:
    """Run ``js`` in this page, against ``through`` (a lab, or a tap in front of it).

    Example::

        dl.show.BrowserCode('''
          const answer = await fetch(LAB + "/api/notifications?user=meera");
          log(answer.status, await answer.json());
        ''', through=lab)
    """

    def __init__(self, js: str, *, through: Lab | Tap, diagram: bool = False, **diagram_options: Any) -> None:
        if isinstance(through, Tap):
            if through.lab is None:
                raise ValueError("BrowserCode runs through a tap the lab started: tap = lab.tap(websockets=True)")
            lab, http_base = through.lab, through.url
            ws_base = through.ws_url or through.lab.ws_url
        else:
            lab, http_base, ws_base = through, through.url, through.ws_url
        self.lab, self.through, self.t_created = lab, through, time.perf_counter()
        here = frontend()
        routes = [] if here.name == "Colab" else ["direct", "proxy"]
        owner = f"{RUNNER_OWNER} {next(widget_ids)}"
        self.editor = CodeEditor(
            lab, "", owner, code=js.strip("\n"), lab_url=http_base, ws_base=ws_base, routes=routes, where=here.name
        )
        self.widget = W.VBox([self.editor])
        dress(self.widget)  # the course's text sizes, projector mode's too
        self.diagram: Any = None
        if diagram:
            if not isinstance(through, Tap):
                raise ValueError("a diagram needs a tap: through=lab.tap(websockets=True), diagram=True")
            diagram_options.setdefault("history", False)
            diagram_options.setdefault("height", 320)
            self.diagram = through.show(**diagram_options)

    @property
    def code(self) -> str:
        """The snippet as it is now (the student may have edited it in the page)."""
        return self.editor.code

    @property
    def logs(self) -> list[str]:
        """What the page logged (it reaches the kernel when no cell runs)."""
        return list(self.editor.logs)

    def records(self, path: str = "") -> list[Any]:
        """The lab's records of the WebSockets the browser code opened (any widget's), oldest first."""

        async def mine() -> list[Any]:
            return [
                r
                for r in self.lab.websockets.records
                if (r.owner or "").startswith(RUNNER_OWNER) and r.path.startswith(path)
            ]

        return self.lab.run(mine(), 5)

    def in_a_page(self) -> bool:
        """Whether a page has unlocked this widget's runner (a ticket was used), so a browser shows it."""
        return self.editor.unlocked > 0

    def wait_open(self, path: str, timeout: float = 5.0) -> None:
        """Wait until the browser code has a WebSocket to ``path`` open; say in one line how it went."""
        live: list[Any] = []

        def opened() -> bool:
            live[:] = [r for r in self.records(path) if r.open]
            return bool(live)

        if self.wait_for(opened, timeout):
            print(
                f"the page's socket to {path} is open ({(live[-1].t_open - self.t_created) * 1000:.0f} ms "
                f"after the widget was created, {WAYS.get(live[-1].via, live[-1].via)})"
            )
        else:
            print("no page has opened it (no browser shows this notebook?): the cells below go on without it")

    def wait_for(self, happened: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``happened()`` (e.g. the page's request crossed a tap); False if it did not.

        Gives up early when no page has unlocked the runner by :data:`NO_PAGE_AFTER` (a headless run).
        """
        start = time.perf_counter()
        while not happened():
            waited = time.perf_counter() - start
            if waited > timeout or (waited > NO_PAGE_AFTER and not self.in_a_page()):
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        self.lab.policy.revoke_runners(owner=self.editor.owner)  # its pages' cookies let nothing in any more
        self.editor.close()
        self.widget.close()
        if self.diagram is not None:
            self.diagram.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        if self.diagram is not None:
            display(self.diagram)  # below the code: what the code sent, as it crosses the tap
