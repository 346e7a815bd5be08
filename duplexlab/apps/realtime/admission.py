"""Who may open a WebSocket to the lab, on which path: one check at the handshake, one record kept after it.

:func:`admit` reads a handshake's request and returns either a
:class:`~duplexlab.apps.realtime.routes.Refusal` (an HTTP status and why) or one
:class:`Admission`, which the server keeps on the connection. In order, so a
client always sees the first thing wrong:

1. A browser widget offers a one-use ticket (``Sec-WebSocket-Protocol:
   duplexlab.ticket.…``). The lab's request policy admits it or refuses it
   (421/403); the ticket stands in for an ``Origin``. In a classroom, the ticket
   of a student since removed is refused (403).
2. Otherwise, in a classroom, the handshake carries a credential
   (``Authorization: Bearer …``): 401 without one the roster knows. Then the
   lab's request policy checks ``Host`` and ``Origin`` (421/403).
3. The route table checks the path (404 unknown, 400 bad arguments) and, for a
   classroom student, that they follow only their own notifications (403).

A classroom student's admission carries their :class:`Budget`: every message on
any of their sockets is spent from it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request
from websockets.typing import Subprotocol

from ...runtime.classroom import Roster, Student, bearer
from ...runtime.policy import TICKET_PREFIX, Decision, RequestPolicy, runner_tokens, single
from .routes import Refusal, Routes, Serve

__all__ = ["Admission", "Budget", "Credential", "admit", "select_subprotocol"]

NEEDS_CREDENTIAL = (
    "this classroom lab needs your credential in an Authorization header (or it was revoked); "
    'join with dl.join(url, code, name="you") and use seat.connect(path)\n'
)


class Credential(enum.Enum):
    """What a handshake showed to be let in."""

    NONE = "none"  # nothing: the policy's Host and Origin checks decide
    TICKET = "ticket"  # a browser widget's one-use ticket
    BEARER = "bearer"  # a classroom credential, in an Authorization header
    RUNNER = "runner"  # a browser code widget's runner cookie, from the origin it was made for


@dataclass(frozen=True)
class Budget:
    """A classroom student's one budget of messages and bytes a second, across all their sockets."""

    roster: Roster
    student: Student

    def spend(self, size: int) -> str:
        """One message of ``size`` bytes: "" if within the budget, else the reason to close the socket with."""
        return self.roster.spend(self.student, size, time.monotonic())


@dataclass(frozen=True)
class Who:
    """Who a handshake comes from, before its path is read."""

    credential: Credential = Credential.NONE
    owner: str | None = None  # a ticket's owner, or "student:<name>"; None for a plain client
    via: str = "direct"  # "direct", "proxy" (the notebook server's) or "bridge" (the kernel, for a browser view)
    seat: str | None = None  # a classroom student acts only as this user (None: not a classroom, or the teacher)
    budget: Budget | None = None  # a classroom student's budget (None: not a student)


@dataclass(frozen=True)
class Admission:
    """What the handshake earned a connection: who holds it, which channel serves it, and how."""

    channel: str  # the route's channel: "chat", "notifications", "private", "stream", "echo" or "alive"
    serve: Serve  # the channel's serve, bound to the handshake's arguments
    credential: Credential = Credential.NONE
    owner: str | None = None  # a ticket's owner, or "student:<name>"; None for a plain client
    via: str = "direct"  # "direct", "proxy" (the notebook server's) or "bridge" (the kernel, for a browser view)
    seat: str | None = None  # a classroom student acts only as this user (None: not a classroom, or the teacher)
    budget: Budget | None = None  # a classroom student's budget (None: not a student)


def admit(
    request: Request, *, routes: Routes, policy: RequestPolicy, roster: Roster | None = None
) -> Admission | Refusal:
    """The :class:`Admission` for a handshake's ``request``, or the :class:`Refusal` to answer it with."""
    headers = request.headers
    offered = [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol") for p in value.split(",")]
    ticket = next((p.removeprefix(TICKET_PREFIX) for p in offered if p.startswith(TICKET_PREFIX)), None)
    host = single(headers.get_all("Host"))
    if ticket is not None:
        who = by_ticket(ticket, host, offered, route=single(headers.get_all("X-Duplexlab-Route")), policy=policy)
        if isinstance(who, Who) and roster is not None:
            who = in_class(who, roster)
    else:
        who = by_credential(single(headers.get_all("Authorization")), roster) if roster is not None else Who()
        if isinstance(who, Who):
            origin, site = single(headers.get_all("Origin")), single(headers.get_all("Sec-Fetch-Site"))
            runner = runner_tokens(headers.get_all("Cookie"), policy.runner_cookie)
            owner = policy.runner_admits(runner, origin, site) if roster is None else None
            if owner is not None:  # a browser code widget's page (rule 4): whoever it came through
                who = Who(Credential.RUNNER, owner, "direct" if policy.host_allowed(host) else "proxy")
            else:
                decision = policy.check("GET", host=host, origin=origin, fetch_site=site)
                who = who if decision is None else refusal(decision)
    if isinstance(who, Refusal):
        return who
    opened = routes.open(request.path, seat=who.seat)
    if isinstance(opened, Refusal):
        return opened
    channel, serve = opened
    return Admission(channel, serve, who.credential, who.owner, who.via, who.seat, who.budget)


def by_ticket(
    ticket: str, host: str | None, offered: Sequence[str], *, route: str | None, policy: RequestPolicy
) -> Who | Refusal:
    """Who a browser widget's ticket says holds the socket, or the policy's refusal."""
    admitted = policy.admit(ticket, host)
    if isinstance(admitted, Decision):
        return refusal(admitted)
    owner, via = admitted
    if via == "direct" and route == "bridge":
        via = "bridge"  # the kernel, holding this socket for a browser view (a label, not a permission)
    elif via == "direct" and "duplexlab.via.proxy" in offered:
        via = "proxy"  # a proxy that keeps a loopback Host (Docker, an SSH tunnel): the page says so
    return Who(Credential.TICKET, owner, via)


def in_class(who: Who, roster: Roster) -> Who | Refusal:
    """A ticket in a classroom: a student's is refused once they are removed, and binds them to their seat."""
    if who.owner is None or not who.owner.startswith("student:"):
        return who
    name = who.owner.removeprefix("student:")
    if name not in roster.students:
        return Refusal(HTTPStatus.FORBIDDEN, "this student was removed from the class\n")
    student = roster.named(name)
    budget = Budget(roster, student) if student is not None else None
    return Who(who.credential, who.owner, who.via, seat=name, budget=budget)


def by_credential(authorization: str | None, roster: Roster) -> Who | Refusal:
    """Who a classroom credential belongs to (a student acts only as themselves), or 401."""
    student = roster.student(bearer(authorization))
    if student is None:
        return Refusal(HTTPStatus.UNAUTHORIZED, NEEDS_CREDENTIAL)
    owner = f"student:{student.name}"
    if student.teacher:
        return Who(Credential.BEARER, owner)
    return Who(Credential.BEARER, owner, seat=student.name, budget=Budget(roster, student))


def refusal(decision: Decision) -> Refusal:
    """The policy's :class:`~duplexlab.runtime.policy.Decision` as a handshake's refusal."""
    return Refusal(HTTPStatus(decision.status), f"{decision.error}; {decision.hint}\n")


def select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Answer ``duplexlab`` to a client that offers it (the browser widget, with its ticket)."""
    return Subprotocol("duplexlab") if "duplexlab" in offered else None
