"""A page's WebSocket lifecycle in Python: open on mount, close on unmount.

A web page opens its socket when the component mounts and closes it when the
component unmounts. :class:`Page` is the same for scripts and cells: entering
the ``with`` block mounts (connects), leaving it unmounts (closes with 1000,
"unmount"), even when the block raises. While mounted, a thread collects every
pushed message, so a cell can look at them whenever it likes.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["Page"]


class Page:
    """A client "page" with one WebSocket to the lab.

    Example::

        with dl.Page(lab, "/notifications/meera") as page:
            lab.notify("meera", "hi")
            page.wait_for("notification")["text"]   # 'hi'
        # unmounted: the socket is closed
    """

    def __init__(self, lab: Lab, path: str) -> None:
        self.lab, self.path = lab, path
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._ws: ClientConnection | None = None
        self._reader: threading.Thread | None = None
        self._arrived = threading.Condition()

    @property
    def mounted(self) -> bool:
        return self._ws is not None

    def mount(self) -> Page:
        """Open the WebSocket and start collecting messages. Twice is harmless."""
        if self._ws is None:
            self._ws = self.lab.connect(self.path)
            self._reader = threading.Thread(target=self._read, name="duplexlab-page", daemon=True)
            self._reader.start()
        return self

    def _read(self) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            for raw in ws:
                message = json.loads(raw)
                with self._arrived:
                    self.messages.append((time.perf_counter(), message))
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass

    def unmount(self, code: int = 1000, reason: str = "unmount") -> None:
        """Close the WebSocket (1000, "unmount") and stop collecting. Twice is harmless."""
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close(code, reason)
            if self._reader is not None:
                self._reader.join(5)

    def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message on the page's socket."""
        if self._ws is None:
            raise RuntimeError("the page is not mounted; use `with dl.Page(lab, path) as page:`")
        self._ws.send(json.dumps(message))

    def wait_for(self, kind: str, timeout: float = 5.0, *, after: int = 0) -> dict[str, Any]:
        """The first message of type ``kind`` (from index ``after`` on), waiting up to ``timeout`` s."""
        end = time.perf_counter() + timeout
        with self._arrived:
            while True:
                for _, message in self.messages[after:]:
                    if message.get("type") == kind:
                        return message
                left = end - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"no {kind!r} message arrived on {self.path} within {timeout} s")
                self._arrived.wait(left)

    def __enter__(self) -> Page:
        return self.mount()

    def __exit__(self, *exc: object) -> None:
        self.unmount()

    def __repr__(self) -> str:
        state = "mounted" if self.mounted else "unmounted"
        return f"<Page {self.path} {state}, {len(self.messages)} message(s)>"
