"""The teacher's side of a classroom lab: the door in front of the apps, the join line, removing a student.

A lab started with ``classroom=True`` holds one :class:`Classroom` (``lab.classroom``). It
keeps the class's :class:`~duplexlab.runtime.classroom.Roster` (``lab.roster``), puts the
door with the apps' rules (:func:`~duplexlab.apps.classroom.classroom_middleware`) in front
of the lab's HTTP app, gives the lab's own clients the teacher's credential, and ends
everything a removed student holds.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp.typedefs import Middleware

from ..runtime.classroom import REMOVED, Roster, own_addresses
from ..runtime.hygiene import ConnectionGate
from ..runtime.loop import LoopThread
from ..runtime.policy import RequestPolicy
from . import judge, realtime, sandbox
from . import notifications as social
from .classroom import classroom_middleware

__all__ = ["REMOVE_GRACE", "Classroom"]

REMOVE_GRACE = 0.3  # seconds a removed student's sockets have to finish the close before they are cut


class Classroom:
    """A lab's class: its roster, its door, and the teacher's hand on both.

    Args:
        host: the address the lab listens on (its own machine is not limited per address).
        loop: the lab's loop, where a removal ends what the student holds.
        judge: the lab's judge (in a classroom it runs submissions inside bubblewrap, or is off).
        notifications: the lab's notifications (a student may read only their own).
    """

    def __init__(
        self, host: str, *, loop: LoopThread, judge: judge.Judge, notifications: social.NotificationStore
    ) -> None:
        self.host = host
        self.roster = Roster()  # the join code, the students and their credentials
        self.loop = loop
        self.judge = judge
        self.notifications = notifications

    def door(self, gate: ConnectionGate, policy: RequestPolicy) -> Middleware:
        """The middleware that checks every request's credential and the apps' rules (a step of the lab's start)."""
        roster = self.roster
        # each address on the class's network holds a few connections; the lab's own machine any
        gate.own_addresses = roster.own_addresses = own_addresses(self.host)
        gate.per_address = lambda: roster.limits.connections_per_address
        self.judge.isolate = sandbox.isolation() is not None  # other students' code, the teacher's machine
        return classroom_middleware(
            roster,
            policy.issue_ticket,
            judge_isolated=self.judge.isolate,
            note_owner=self.note_owner,
            source=gate.source,
        )

    def note_owner(self, note_id: int) -> str | None:
        """Whose notification ``note_id`` is (None: no such one), for the door's checks."""
        try:
            return self.notifications.get(note_id).user
        except KeyError:
            return None

    def with_credential(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        """``headers`` with the teacher's credential added (the lab's own clients and sockets carry it)."""
        return {"Authorization": f"Bearer {self.roster.teacher_credential}", **dict(headers or {})}

    def join_line(self, url: str) -> str:
        """The line students paste to join the class served at ``url``."""
        return f'seat = dl.join("{url}", "{self.roster.code}", name="your name")'

    def remove(self, name: str, ws: realtime.RealtimeServer) -> int:
        """Remove ``name`` from the class and end everything they hold; returns how many sockets closed.

        What it ended is kept, in words, in ``roster.named(name).removal`` (read
        :meth:`duplexlab.lab.Lab.remove_student` for what that is).

        Raises:
            ValueError: no such student in the class (or the teacher's own name).
        """
        if not self.roster.remove(name):
            raise ValueError(f"no student {name!r} in this class; in class now: {', '.join(self.roster.students)}")
        student = self.roster.named(name)
        assert student is not None

        async def end_everything() -> tuple[int, int, int, int]:
            streams = 0
            for held in list(student.held):
                if not held.done():
                    held.set_result(REMOVED)
                    streams += 1
            cancelled = self.judge.cancel(name)
            closed, cut = await ws.close_owned_by(f"student:{name}", 1008, "removed by the teacher", grace=REMOVE_GRACE)
            return closed, cut, streams, cancelled

        closed, cut, streams, cancelled = self.loop.run(end_everything(), 5)
        said = f"credential revoked, {closed} socket(s) closed"
        if cut:
            said += f" ({cut} cut: no answer to the close within {REMOVE_GRACE:g} s)"
        said += f", {streams} request(s) ended (event streams, long polls)"
        if cancelled:
            said += f", {cancelled} judge submission(s) cancelled"
        student.removal = said
        return closed
