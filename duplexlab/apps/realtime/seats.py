"""A classroom student's open sockets: at most ``sockets_per_student`` at once, on every path together.

Counted and checked in one step on the lab's loop, with no ``await`` between
the handshake and the count, so two sockets opened at once cannot both slip
under the limit.
"""

from __future__ import annotations

from ...runtime.classroom import Roster, Student
from .connection import RealtimeConnection

__all__ = ["Seats"]


class Seats:
    """The open sockets of each classroom student (the teacher's are not counted)."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self._by_student: dict[str, set[RealtimeConnection]] = {}

    def take(self, ws: RealtimeConnection, student: Student) -> str:
        """Count ``ws`` among ``student``'s sockets: "" if it may stay open, else why to close it (1008)."""
        theirs = self._by_student.setdefault(student.name, set())
        if student.removed:  # removed while this handshake was on its way
            return "removed by the teacher"
        if len(theirs) >= self.roster.limits.sockets_per_student:
            student.limits_hit["sockets"] += 1
            return f"you already have {len(theirs)} sockets open, the most one student may; close one first"
        theirs.add(ws)
        return ""

    def leave(self, ws: RealtimeConnection, student: Student) -> None:
        """``ws`` has closed: it no longer counts among ``student``'s sockets."""
        theirs = self._by_student.get(student.name)
        if theirs is not None:
            theirs.discard(ws)
            if not theirs:
                del self._by_student[student.name]

    def held(self, student: Student) -> int:
        """How many sockets ``student`` holds open."""
        return len(self._by_student.get(student.name, ()))
