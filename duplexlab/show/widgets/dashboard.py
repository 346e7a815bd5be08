"""The teacher's dashboard in classroom mode: who is in, the class's load live, the chat, the door,
and how each student's exercise checks went.

Refreshed once a second on the lab's loop (never the kernel's): who is here now
(a socket open, or a request in the last ``HERE`` seconds), each student's
requests, bytes and open sockets, which of the class's limits stopped them
(requests or messages a second, bytes a second, sockets) and their judge
submissions waiting; the class's polling load (HTTP requests and response bytes
a second) beside its push load (WebSocket messages and their bytes a second),
and who holds the judge's queue; the last chat lines. Its buttons rotate the
join code and remove a student (which always says what it did, within a second).
"""

from __future__ import annotations

import asyncio
import html
import time

import ipywidgets as W

from ...feedback import fit_parts, mark_html
from ...lab import Lab
from ..projector import dress, sizes
from .base import Shown

__all__ = ["Dashboard"]

CONFIRM_WITHIN = 5.0  # seconds for the second click on Remove
HERE = 10.0  # seconds since a student's last request during which they count as here (without a socket)


class Dashboard(Shown):
    """Show it as a cell's value on the teacher's lab: ``dl.widgets.Dashboard(lab)``.

    ``rows()`` gives what the table shows, for scripts and tests.
    """

    def __init__(self, lab: Lab, *, every: float = 1.0) -> None:
        if lab.roster is None:
            raise ValueError("the dashboard is for a classroom lab: lab = dl.start(classroom=True, host=...)")
        self.lab = lab
        self.every = every
        self.join = W.HTML()
        self.load = W.HTML()
        self.table = W.HTML()
        self.chat = W.HTML()
        self.rotate_button = W.Button(description="New join code", button_style="warning")
        self.pick = W.Dropdown(description="student", options=[])
        self.remove_button = W.Button(description="Remove", button_style="danger", layout=W.Layout(width="auto"))
        self.status = W.HTML()
        self.interval = W.FloatSlider(
            value=1.0,
            min=0.1,
            max=2.0,
            step=0.1,
            description="class polls every (s)",
            style={"description_width": "11.5em"},  # em: grows with projector mode's text
            layout=W.Layout(width="35em"),
            readout_format=".1f",
        )
        self.interval.observe(self._set_interval, names="value")
        self.rotate_button.on_click(lambda _: self.rotate())
        self.remove_button.on_click(lambda _: self._remove_clicked())
        self._confirming: tuple[str, float] | None = None  # (name, when) after a first click on Remove
        self.widget = W.VBox(
            [
                self.join,
                W.HBox([self.rotate_button, self.pick, self.remove_button]),
                self.interval,
                self.status,
                self.load,
                self.table,
                self.chat,
            ]
        )
        self.widget.add_class("duplexlab-dashboard")
        self._watch(None)  # names and focus rings for its controls (the teacher's page watches no lab line)
        dress(self.widget)
        self._join_px = 0  # the join line's size as last drawn (projector mode changes it)
        self._last: tuple[float, dict[str, tuple[int, int, int, int]]] | None = None
        self._load_text = ""
        self._show_join()
        self._refresh()
        lab.call_soon(lambda: asyncio.get_running_loop().create_task(self._follow()))

    # -- what it shows ------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """One row per student: here now, requests, bytes out, requests refused for speed, sockets open,
        messages pushed and their bytes, which limits stopped them and how often (``limits``), their
        judge submissions queued or running (``judge``), exercise checks."""
        by_owner: dict[str | None, list] = {}
        for record in self.lab.websockets.records:
            by_owner.setdefault(record.owner, []).append(record)
        judged = self.lab.judge.waiting()
        out = []
        now = time.monotonic()
        for s in self.lab.roster.table() if self.lab.roster else []:
            theirs = by_owner.get(f"student:{s.name}", [])
            sockets = sum(1 for r in theirs if r.open)
            out.append(
                {
                    "name": s.name,
                    "here": sockets > 0 or (s.last_seen > 0 and now - s.last_seen < HERE),
                    "seen_ago": now - s.last_seen if s.last_seen else None,
                    "requests": s.requests,
                    "bytes_out": s.bytes_out,
                    "limited": s.limited,
                    "sockets": sockets,
                    "pushed": sum(r.sent for r in theirs),
                    "pushed_bytes": sum(r.bytes_sent for r in theirs),
                    "limits": dict(s.limits_hit),
                    "judge": judged.get(s.name, 0),
                    "checks": dict(s.checks),
                }
            )
        return out

    def _show_join(self) -> None:
        """The line students paste, large enough for the back row (28 px in projector mode); it wraps
        between its words (still one line of Python when pasted) on a narrow screen."""
        self._join_px = sizes().join_line_px
        self.join.value = (
            "<div class='duplexlab-join'><b>Students join with</b>"
            f"<code style='display:block;font-size:{self._join_px}px;line-height:1.35;white-space:pre-wrap;"
            f"overflow-wrap:anywhere;padding:2px 0'>{html.escape(self.lab.join_line())}</code></div>"
        )

    def _refresh(self) -> None:
        if self._join_px != sizes().join_line_px:
            self._show_join()  # projector mode was turned on or off
        if self._confirming is not None and time.monotonic() - self._confirming[1] >= CONFIRM_WITHIN:
            self._confirming = None  # the question lapsed: the button asks again from the start
            self.remove_button.description = "Remove"
        rows = self.rows()
        now = time.perf_counter()
        # each student's counters since the last refresh: a student removed (or new) adds nothing, so the
        # class's load never drops below zero when the room shrinks
        totals = {r["name"]: (r["requests"], r["bytes_out"], r["pushed"], r["pushed_bytes"]) for r in rows}
        rates = (0.0, 0.0, 0.0, 0.0)
        if self._last is not None and now > self._last[0]:
            then, before = self._last
            grown = [
                tuple(max(0, a - b) for a, b in zip(total, before[name], strict=True))
                for name, total in totals.items()
                if name in before
            ]
            rates = tuple(sum(column) / (now - then) for column in zip(*grown, strict=True)) if grown else rates
        self._last = (now, totals)
        sockets = sum(r["sockets"] for r in rows)
        here = sum(1 for r in rows if r["here"])
        queued = {r["name"]: r["judge"] for r in rows if r["judge"]}
        judge = (
            f" · judge: {sum(queued.values())} queued or running ("
            + ", ".join(f"{html.escape(n)} {k}" for n, k in sorted(queued.items(), key=lambda q: -q[1])[:8])
            + (", …" if len(queued) > 8 else "")
            + ")"
            if queued
            else ""
        )
        load = (
            f"<b>{len(rows)} student(s)</b>, {here} here now · polling load: <b>{rates[0]:.1f} requests/s</b>, "
            f"{rates[1] / 1024:.1f} KiB/s · push load: <b>{rates[2]:.1f} messages/s</b>, "
            f"{rates[3] / 1024:.1f} KiB/s over {sockets} open socket(s){judge}"
        )
        self._load_text = fit_parts(load.replace("<b>", "").replace("</b>", "").split(" · "))

        def seen(r: dict) -> str:
            if r["here"]:
                return "● here"
            return "not yet" if r["seen_ago"] is None else f"{r['seen_ago']:.0f} s ago"

        cells = "".join(
            f"<tr><td>{html.escape(r['name'])}</td><td>{seen(r)}</td><td>{r['requests']}</td><td>{r['bytes_out']}</td>"
            f"<td>{r['limited']}</td><td>{r['sockets']}</td><td>{r['pushed']}</td><td>{r['pushed_bytes']}</td>"
            f"<td>{html.escape(limits_text(r['limits']))}</td><td>{r['judge'] or ''}</td>"
            f"<td>{html.escape(' '.join(f'{c} {v}' for c, v in r['checks'].items()))}</td></tr>"
            for r in rows
        )
        table = (
            "<table class='duplexlab-dashboard-table' style='border-collapse:separate;border-spacing:14px 2px'>"
            "<tr><th>student</th><th>seen</th><th>requests</th>"
            "<th>bytes out</th><th>too fast</th><th>sockets open</th><th>messages pushed</th><th>bytes pushed</th>"
            f"<th>limits hit</th><th>judge queue</th><th>exercise checks</th></tr>{cells}</table>"
        )
        room = list(self.lab.websockets.room.recent)[-8:]
        chat = "<b>chat</b>: " + (
            "<br>".join(f"{html.escape(n)}: {html.escape(t)}" for n, t in room) if room else "(quiet)"
        )
        names = tuple(r["name"] for r in rows)
        for widget, value in ((self.load, load), (self.table, table), (self.chat, chat)):
            if widget.value != value:
                widget.value = value
        if tuple(self.pick.options) != names:
            self.pick.options = names

    async def _follow(self) -> None:
        while self.lab.running:
            try:
                self._refresh()
            except Exception as exc:  # shown, never a dead dashboard
                self.status.value = f"{mark_html('✗')}<b>refresh failed</b>: {html.escape(str(exc))}"
            await asyncio.sleep(self.every)

    def load_line(self) -> str:
        """The load line as plain text: who is here, polling and push load over the last second."""
        return self._load_text

    def _set_interval(self, change=None) -> None:
        """The class's polling interval: every joined student's experiment that follows the class moves to it."""
        assert self.lab.roster is not None
        self.lab.roster.settings["poll_interval"] = round(float(self.interval.value), 3)
        self.status.value = f"class polling interval: {self.interval.value:g} s (students' experiments follow)"

    # -- the door -------------------------------------------------------------------------

    def rotate(self) -> str:
        """A new join code (the button does this); students already in stay in. Returns it."""
        assert self.lab.roster is not None
        code = self.lab.roster.rotate()
        self._show_join()
        self.status.value = "new join code: students already in stay in; new joins need the new code"
        return code

    def _remove_clicked(self) -> None:
        """The Remove button: a first click asks, a second on the same student within 5 s removes."""
        name = self.pick.value
        if name and self._confirming is not None and self._confirming[0] == name:
            if time.monotonic() - self._confirming[1] < CONFIRM_WITHIN:
                self._confirming = None
                self.remove_button.description = "Remove"
                self.remove(name)
                return
        self._confirming = (name, time.monotonic()) if name else None
        if name:
            self.remove_button.description = f"Remove {name}? Click again"
            self.status.value = (
                f"click again within 5 s to remove {html.escape(name)}: their credential stops working, "
                "their sockets close"
            )
        else:
            self.status.value = "pick a student first"

    def remove(self, name: str | None) -> None:
        """Remove a student (the button does this for the one picked): credential revoked, sockets closed,
        streams ended. Always says what happened in the status line, within a second."""
        if not name:
            self.status.value = "pick a student first"
            return
        try:
            self.lab.remove_student(name)
        except Exception as exc:  # said, never a silent button: no such student, the lab stopped, …
            self.status.value = f"could not remove {html.escape(name)}: {html.escape(str(exc) or type(exc).__name__)}"
            return
        roster = self.lab.roster
        student = roster.named(name) if roster is not None else None
        done = student.removal if student is not None else "credential revoked"
        self.status.value = f"removed {html.escape(name)}: {html.escape(done)}"
        self._refresh()
        self.pick.value = None  # no one picked: the next Remove needs a choice of its own


def limits_text(hits: dict[str, int]) -> str:
    """Which limits stopped a student and how often: ``sockets ×21 · bytes/s ×3`` ("" for none)."""
    return " · ".join(f"{limit} ×{times}" for limit, times in sorted(hits.items()))
