"""Lesson 2's OTP screen: a countdown the server dictates."""

from __future__ import annotations

import asyncio
import math
import time

import ipywidgets as W

from ...lab import Lab
from ..projector import dress, verdict
from .base import Shown

__all__ = ["OTPScreen"]


class OTPScreen(Shown):
    """An OTP screen: "Resend in 12 s", then a Resend button, driven by the server.

    The countdown comes from the server's answer: ``resend_after`` when a code
    is sent, the ``Retry-After`` header when a resend is refused (429). The
    screen never guesses.
    """

    def __init__(self, lab: Lab, phone: str = "9876543210") -> None:
        self.lab = lab
        self.phone = phone
        self.client = lab.client(check=False)
        self.resend_at: float | None = None
        self.last_status: int | None = None
        self.title = W.HTML(f"<b>Enter the code sent to {phone}</b>")
        self.code = W.Text(placeholder="6-digit code", layout=W.Layout(width="10em"))
        self.verify_button = W.Button(description="Verify")
        self.countdown = W.Label("")
        self.resend_button = W.Button(description="Resend OTP", disabled=True)
        self.message = W.HTML("")
        self.message.add_class("duplexlab-status")  # read out by a screen reader when it changes
        self.widget = W.VBox(
            [
                self.title,
                W.HBox([self.code, self.verify_button]),
                W.HBox([self.countdown, self.resend_button]),
                self.message,
            ]
        )
        self._watch(lab)
        dress(self.widget)
        self.resend_button.on_click(lambda _: self.send())
        self.verify_button.on_click(lambda _: self.verify(self.code.value))
        self._timer: asyncio.TimerHandle | None = None

    def send(self) -> int:
        """Ask the server for a (new) code; start the countdown it dictates. Returns the status."""
        reply = self.client.post("/api/otp/send", json={"phone": self.phone})
        self.last_status = reply.status
        if reply.status == 200:
            wait = float(reply.json()["resend_after"])
            self.message.value = "A code was sent (look in <code>lab.otp.inbox(phone)</code>)."
            verdict(self.message, None)
        elif reply.status == 429:
            wait = float(reply.headers.get("Retry-After", "1"))
            self.message.value = f"Too soon: the server says retry after {wait:g} s."
            verdict(self.message, None)
        else:
            wait = 0.0
            self.message.value = f"Error {reply.status}: {reply.json().get('error')}"
            verdict(self.message, "✗")
        self.resend_at = time.perf_counter() + wait
        self.lab.call_soon(self._tick)
        return reply.status

    def verify(self, code: str) -> bool:
        reply = self.client.post("/api/otp/verify", json={"phone": self.phone, "code": code})
        self.last_status = reply.status
        data = reply.json()
        ok = reply.status == 200
        self.message.value = "✓ verified" if ok else f"✗ {data['error']} ({data['hint']})"
        verdict(self.message, "✓" if ok else "✗")  # white and bold on dark green or dark red
        return ok

    @property
    def seconds_left(self) -> int:
        if self.resend_at is None:
            return 0
        return max(0, math.ceil(self.resend_at - time.perf_counter()))

    def _tick(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        left = self.seconds_left
        self.resend_button.disabled = left > 0
        self.countdown.value = f"Resend in {left} s" if left > 0 else ""
        if left > 0 and self.resend_at is not None:
            wait = (self.resend_at - time.perf_counter()) - (left - 1)
            self._timer = asyncio.get_running_loop().call_later(max(0.01, wait), self._tick)
