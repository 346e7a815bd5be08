"""The kernel's end of a browser widget's line to the lab over the widget's comm (``route.js``'s "bridge").

Where the browser can't reach the lab's port, directly or through the notebook
server's proxy (VS Code, Colab, a hub without ``jupyter-server-proxy``), a view
asks over the widget's comm, and the kernel opens the real WebSocket to the lab
and passes messages both ways:

    browser view ──comm──▶ kernel ──WebSocket──▶ lab

What that changes for a learner: the browser's messages reach the kernel only
while no cell runs (Jupyter reads comm messages between cells), so a view joins
and sends when the notebook is idle; the browser's developer tools show comm
traffic, not the WebSocket's frames, handshake or close code; and the socket's
``Origin`` is no browser's (the kernel is a program): the lab records it as
``via="bridge"``.
"""

from __future__ import annotations

import asyncio
import collections
import re
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ...runtime.policy import TICKET_PREFIX

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CommBridge", "MAX_VIEWS"]

MAX_VIEWS = 8  # bridged sockets per widget: a reloaded page's new view closes the oldest past this
VIEW_ID = re.compile(r"[a-z0-9]{1,16}")


class CommBridge:
    """Serve the "bridge" way for ``widget``: its views' WebSockets, held by the kernel.

    Comm messages from the browser: ``{"op": "open" | "send" | "close", "view": id, …}``;
    to the browser: ``{"op": "open" | "message" | "close", "view": id, …}``.
    """

    def __init__(self, widget, lab: Lab, path: str, owner: str) -> None:
        self.widget, self.lab, self.path, self.owner = widget, lab, path, owner
        self.sockets: collections.OrderedDict[str, ClientConnection] = collections.OrderedDict()
        self.errors: collections.deque[str] = collections.deque(maxlen=20)  # bad messages from the page
        self.closed_early: dict[str, tuple[int, str]] = {}  # views that unmounted while their socket opened
        widget.on_msg(self._heard)

    def _heard(self, _widget, content, _buffers) -> None:
        """A comm message from a view (on the kernel's thread): hand it to the lab's loop."""
        if not isinstance(content, dict) or not VIEW_ID.fullmatch(str(content.get("view", ""))):
            self.errors.append(f"ignored a comm message without a view id: {str(content)[:80]}")
            return
        op, view = content.get("op"), content["view"]
        if not self.lab.running:
            self._tell(op="close", view=view, code=1001, reason="the lab is not running; run the lab's cell again")
        elif op == "open":
            self.lab.loop.submit(self._hold(view))
        elif op == "send" and isinstance(content.get("data"), str):
            self.lab.loop.submit(self._send(view, content["data"]))
        elif op == "close":
            code = content["code"] if isinstance(content.get("code"), int) else 1000
            reason = str(content.get("reason", "")).encode()[:120].decode(errors="ignore")  # ≤ 123 bytes on the wire
            self.lab.loop.submit(self._close(view, code, reason))
        else:
            self.errors.append(f"ignored a comm message: {str(content)[:80]}")

    def _tell(self, **message) -> None:
        self.widget.send(message)

    async def _hold(self, view: str) -> None:
        """Open the lab's WebSocket for ``view`` and pass what arrives to it, until either side closes."""
        if view in self.sockets:
            return
        while len(self.sockets) >= MAX_VIEWS:
            _, oldest = self.sockets.popitem(last=False)
            await oldest.close(1001, "a newer view of this widget took over")
        ticket = self.lab.policy.issue_ticket(self.owner)
        try:
            ws = await connect(
                self.lab.ws_url + self.path,
                subprotocols=["duplexlab", TICKET_PREFIX + ticket],  # type: ignore[list-item]
                additional_headers={"X-Duplexlab-Route": "bridge"},
                proxy=None,
                open_timeout=5,
            )
        except Exception as exc:
            self._tell(op="close", view=view, code=1006, reason=f"the kernel could not reach the lab: {exc}"[:120])
            return
        self.sockets[view] = ws
        if view in self.closed_early:  # the view went away while the kernel was connecting: don't keep it
            await ws.close(*self.closed_early.pop(view))
        else:
            self._tell(op="open", view=view)
        try:
            async for message in ws:
                if isinstance(message, str):
                    self._tell(op="message", view=view, data=message)
        except ConnectionClosed:
            pass
        finally:
            self.sockets.pop(view, None)
            code = ws.close_code if ws.close_code is not None else 1006
            self._tell(op="close", view=view, code=code, reason=ws.close_reason or "")

    async def _send(self, view: str, data: str) -> None:
        ws = self.sockets.get(view)
        if ws is None:
            self.errors.append(f"a view sent on a line that is not open ({view})")
            return
        try:
            await ws.send(data)
        except ConnectionClosed:
            pass

    async def _close(self, view: str, code: int, reason: str) -> None:
        code = code if code == 1000 or 3000 <= code <= 4999 else 1000
        ws = self.sockets.get(view)
        if ws is not None:
            await ws.close(code, reason)
        elif len(self.closed_early) < 64:
            self.closed_early[view] = (code, reason)  # its open is still on its way: close it when it lands

    def close(self) -> None:
        """Close every bridged socket (the widget is closed; ``dl.stop()`` closes them with the lab)."""
        if self.sockets and self.lab.running:

            async def all_of_them() -> None:
                await asyncio.gather(*(ws.close(1001, "the widget was closed") for ws in list(self.sockets.values())))

            self.lab.loop.submit(all_of_them())
