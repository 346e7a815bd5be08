"""Lesson 7's fault controls: break the network inside a tap and watch a client cope."""

from __future__ import annotations

import asyncio
import html

import ipywidgets as W

from ..projector import dress
from .base import Shown

__all__ = ["TapControls"]


class TapControls(Shown):
    """Sliders and buttons that break the network inside a tap: latency, idle cut, cut, drop.

    With ``client`` (a :class:`~duplexlab.ResilientClient` that goes through
    the tap), a line under the buttons shows the client's state, its messages
    and connections, refreshed four times a second.

    Example::

        tap = lab.tap(lab.ws_url)
        follower = dl.ResilientClient(tap.url + "/stream/scores").start()
        dl.widgets.TapControls(tap, client=follower)
    """

    def __init__(self, tap, *, client=None) -> None:
        self.tap = tap
        self.client = client
        style = {"description_width": "9.5em"}  # em: labels and sliders grow with projector mode's text
        layout = W.Layout(width="31em")
        self.latency = W.FloatSlider(
            value=tap.latency * 1000, min=0, max=500, step=10, description="latency (ms)", style=style, layout=layout
        )
        self.idle = W.FloatSlider(
            value=tap.idle_timeout or 0,
            min=0,
            max=10,
            step=0.5,
            description="idle cut after (s)",
            style=style,
            layout=layout,
        )
        self.idle_action = W.Dropdown(
            options=[("close both ends", "close"), ("go silent", "silent")],
            value=tap.idle_action,
            description="idle cut",
            style=style,
        )
        self.cut_button = W.Button(description="Cut now", button_style="danger")
        self.drop_button = W.Button(description="Drop server side", button_style="warning")
        self.status = W.HTML("")
        self.latency.observe(self._set_latency, names="value")
        self.idle.observe(self._set_idle, names="value")
        self.idle_action.observe(self._set_idle, names="value")
        self.cut_button.on_click(lambda _: self._report("cut", tap.cut()))
        self.drop_button.on_click(lambda _: self._report("dropped the server side of", tap.drop_server()))
        self.client_status = W.HTML("")
        self.widget = W.VBox(
            [
                self.latency,
                W.HBox([self.idle, self.idle_action]),
                W.HBox([self.cut_button, self.drop_button]),
                self.status,
                self.client_status,
            ]
        )
        self._watch(tap.lab)
        dress(self.widget)
        if client is not None and tap.loop is not None:
            self._show_client()
            tap.loop.call_soon(lambda: asyncio.get_running_loop().create_task(self._follow()))

    def _show_client(self) -> None:
        c = self.client
        text = (
            f"client: <b>{html.escape(c.status)}</b>, {len(c.received)} message(s), "
            f"{c.connections} connection(s); the tap carries {self.tap.open_connections}"
        )
        if self.client_status.value != text:
            self.client_status.value = text

    async def _follow(self) -> None:
        """Refresh the client's line while the tap runs (on the lab's loop, never the kernel's)."""
        while self.tap.running:
            self._show_client()
            await asyncio.sleep(0.25)

    def _set_latency(self, change) -> None:
        self.tap.latency = change["new"] / 1000  # read by the tap's loop on its next chunk
        self.status.value = (
            f"latency now {change['new']:g} ms on every chunk, each way "
            "(messages arrive that much later; nothing breaks)"
        )

    def _set_idle(self, change=None) -> None:
        self.tap.idle_action = self.idle_action.value
        self.tap.idle_timeout = self.idle.value or None  # 0 = never

    def _report(self, what: str, count: int) -> None:
        self.status.value = f"{what} {count} connection(s); {self.tap.open_connections} still open"
