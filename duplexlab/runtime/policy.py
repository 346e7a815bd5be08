"""Who may talk to the lab: one request policy for its HTTP and WebSocket servers.

The lab listens on 127.0.0.1, next to the student's browser. Loopback is not a
security boundary: any web page the browser shows can send requests to
``http://127.0.0.1:<port>``, and a page from a domain that later resolves to
127.0.0.1 (DNS rebinding) can even read the answers. So every request, HTTP or
WebSocket handshake, passes these checks, in this order:

1. **Host.** The ``Host`` header must name the lab: ``127.0.0.1``, ``localhost``,
   ``::1``, the address the lab is bound to, or a host added with
   ``lab.allow_host(...)`` (a name alone allows every port; ``"name:port"`` one
   port). Whatever forwards to the lab without rewriting ``Host`` (a tap, a
   load balancer on loopback) passes, since it keeps a loopback name. A page on
   ``attacker.example`` that rebinds to 127.0.0.1 does not: 421.
2. **Origin.** Browsers send ``Origin`` on cross-origin requests, on every
   ``POST`` and on every WebSocket handshake. It must be the lab's own origin or
   one added with ``lab.allow_origin(...)``; otherwise 403 (the course's
   browser widgets use tickets instead, below). ``Origin: null`` (sandboxed frames, files) is
   never allowed. Programs that are not browsers send no ``Origin`` and pass.
   A browser request with no ``Origin`` but ``Sec-Fetch-Site: cross-site`` or
   ``same-site`` that would change state is refused the same way.
   **Tickets** stand in for an allowed origin on a WebSocket handshake: the
   kernel puts a one-use, expiring ticket (:meth:`RequestPolicy.issue_ticket`)
   in the state of the course's browser widget, which offers it as a
   subprotocol (``Sec-WebSocket-Protocol: duplexlab, duplexlab.ticket.<t>``),
   never in the URL. So the widget connects at once, without asking the
   kernel to allow its page's origin (a request that would wait behind
   running cells). Another page cannot read the ticket out of Jupyter.
   **Through the notebook server's proxy.** On a JupyterHub or Binder the
   browser is on another machine and reaches the lab through
   ``jupyter-server-proxy`` at ``<base_url>/proxy/<port>/``, which forwards the
   handshake with the browser's ``Host`` and ``Origin`` as they are (the hub's
   name, which the kernel cannot know). A valid ticket lets such a handshake
   in too (:meth:`RequestPolicy.admit`); the connection is recorded as
   ``via="proxy"``. Without a ticket the hub's ``Host`` is refused like any
   other (421), so a rebinding page gains nothing: it cannot read a ticket.
3. **JSON only for changes.** A request that changes state (any method but
   GET, HEAD and OPTIONS) must say ``Content-Type: application/json``. A page
   cannot send that to another origin without a CORS preflight, and the lab
   grants no CORS permission, so forms and ``fetch(..., {mode: "no-cors"})``
   from other pages end here with 415 even if a browser sent no ``Origin``.
   **One exception: Engine.IO** (Socket.IO's transport, lesson 10) at ``/socket.io/``
   sends its long-polling POSTs as ``text/plain``, so there a POST may carry that.
   Rules 1 and 2 still hold, and a POST names its session (``sid``), which only the
   page that opened it could read. Opening a session creates state, so there every
   request, a GET too, counts as a change: a page of another site gets 403 even
   with no ``Origin`` (an ``<img>`` pointed at the lab opens no session).

4. **The browser code runner.** ``dl.show.BrowserCode`` runs a student's
   JavaScript in a small page the lab serves itself (``/_duplexlab/runner``,
   loaded in an invisible frame, directly, through a tap or through the
   notebook server's proxy). That page and its ``POST /_duplexlab/runner/unlock``
   skip rules 1 and 2: the page is static and holds no secret, and the unlock
   does nothing without a ticket (a one-use ticket from the widget's state,
   sent in the body, never in a URL). A valid ticket buys a *runner cookie*
   (``HttpOnly; SameSite=Strict``, named after the lab's port) tied to the
   origin that unlocked it (:meth:`RequestPolicy.open_runner`). A request or
   handshake that carries that cookie passes rules 1 and 2 only when it comes
   from that same origin: its ``Origin`` is that origin, or, on a GET with no
   ``Origin``, ``Sec-Fetch-Site`` says ``same-origin`` (or is absent, as on plain http)
   (:meth:`RequestPolicy.runner_admits`). Rule 3 still holds. The page runs
   code only from its parent frame, only after its own unlock succeeded, and
   then only from the origin that sent the ticket. So a foreign page that
   frames the runner, replays a used ticket or posts code into the frame gets
   nothing run; a page on the same site but another origin (another port of
   ``localhost``) is sent the cookie by the browser but is refused by origin.

The policy protects the student from *browsers* (other tabs, pages, rebinding).
It does not stop a program on the machine, which can send any header: that is
what tokens (``/private/<user>``) and, in classroom mode, credentials are for.
Later extensions (the browser widget's ticket, the notebook server's proxy,
classroom mode) add their hosts and origins here, in one place.
"""

from __future__ import annotations

import collections
import re
import secrets
import time
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Decision",
    "ENGINE_IO_PATH",
    "RUNNER_PATH",
    "RUNNER_UNLOCK",
    "RequestPolicy",
    "SAFE_METHODS",
    "TICKET_PREFIX",
    "TICKET_TTL",
    "runner_cookie_name",
    "runner_tokens",
    "single",
]

TICKET_PREFIX = "duplexlab.ticket."
TICKET_TTL = 24 * 3600.0
ENGINE_IO_PATH = "/socket.io/"  # Socket.IO's one path (rule 3's exception)
RUNNER_PATH = "/_duplexlab/runner"  # the browser code runner's page (rule 4)
RUNNER_UNLOCK = RUNNER_PATH + "/unlock"  # where its page trades a ticket for the runner cookie
RUNNER_OWNER = "browser code"  # the owners of tickets that may unlock a runner start with this
MAX_RUNNERS = 64  # runner cookies one lab keeps valid; older ones lapse
MAX_TICKETS_PER_OWNER = 16  # unused tickets one owner (a widget, a classroom student) holds; older ones lapse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
HOST_PATTERN = re.compile(r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?")


@dataclass(frozen=True)
class Decision:
    """A refusal: the HTTP status, what was wrong and what to do instead."""

    status: int
    error: str
    hint: str


def single(values: list[str]) -> str | None:
    """A header's one value: ``None`` if it is absent, ``""`` (garbage) if it was sent twice."""
    if not values:
        return None
    return values[0] if len(values) == 1 else ""


def split_host(value: str) -> tuple[str, int | None]:
    """``"127.0.0.1:8000"`` → ``("127.0.0.1", 8000)``; ``"[::1]"`` → ``("::1", None)``.

    Raises ``ValueError`` for a value that is not a host with an optional port.
    """
    match = HOST_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a host such as 'localhost:8000'")
    port = int(match["port"]) if match["port"] else None
    if port is not None and port > 65535:
        raise ValueError(f"{value!r} has a bad port")
    name = (match["ip6"] or match["name"]).lower().rstrip(".")
    if not name:
        raise ValueError(f"{value!r} is not a host such as 'localhost:8000'")
    return name, port


def normalize_origin(origin: str) -> str:
    """``"HTTP://LocalHost:8888/"`` → ``"http://localhost:8888"``; ``ValueError`` if not an origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{origin!r} is not an origin such as 'http://localhost:8888'")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{origin!r} has a bad port") from None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


@dataclass
class RequestPolicy:
    """The rules above, for one lab. Change them with its methods, from any thread.

    Example::

        policy = RequestPolicy(bound_host="127.0.0.1")
        policy.own_ports.add(8000)
        policy.check("POST", host="127.0.0.1:8000", origin="http://evil.example",
                     content_type="application/json")   # Decision(403, ...)
    """

    bound_host: str = "127.0.0.1"
    own_ports: set[int] = field(default_factory=set)
    allowed_origins: set[str] = field(default_factory=set)
    allowed_hosts: set[tuple[str, int | None]] = field(default_factory=set)
    refused: collections.deque[tuple[float, str, str, int, str | None]] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )
    """The last refusals: ``(t, method, path, status, origin)``, newest last."""
    tickets: dict[str, tuple[float, str]] = field(default_factory=dict)  # ticket -> (expiry, owner)
    on_redeem: dict[str, object] = field(default_factory=dict)  # owner -> called once its ticket is used
    runner_cookie: str = "duplexlab_runner"
    """The runner cookie's name; the lab names it after its HTTP port (cookies do not tell ports apart)."""
    runners: dict[str, tuple[float, str, str]] = field(default_factory=dict)  # cookie -> (expiry, owner, origin)

    def issue_ticket(self, owner: str, *, ttl: float = TICKET_TTL) -> str:
        """A one-use ticket that opens one WebSocket in place of an allowed origin."""
        now = time.monotonic()
        self.tickets = {t: v for t, v in self.tickets.items() if v[0] > now}  # drop expired
        theirs = [t for t, (_, who) in self.tickets.items() if who == owner]
        for old in theirs[: max(0, len(theirs) - MAX_TICKETS_PER_OWNER + 1)]:  # one owner keeps a few unused
            del self.tickets[old]
        ticket = secrets.token_urlsafe(18)
        self.tickets[ticket] = (now + ttl, owner)
        return ticket

    def redeem_ticket(self, ticket: str | None) -> str | None:
        """The ticket's owner if it is valid (it is then used up), else None."""
        if not ticket:
            return None
        expiry, owner = self.tickets.pop(ticket, (0.0, None))
        if owner is None or expiry <= time.monotonic():
            return None
        renew: Any = self.on_redeem.get(owner)
        if isinstance(renew, weakref.ref):  # a WeakMethod: the widget may be gone
            renew = renew()
        if renew is not None:
            renew()
        return owner

    def admit(self, ticket: str, host: str | None) -> tuple[str, str] | Decision:
        """A WebSocket handshake that offers ``ticket``: ``(owner, via)`` if it may open, else the refusal.

        ``via`` is ``"direct"`` when ``Host`` names the lab, ``"proxy"`` when it
        names something else (the notebook server whose proxy forwarded the
        browser's handshake): only a valid ticket admits that.
        """
        direct = self.host_allowed(host)
        refusal = None if direct else self.check("GET", host=host)  # 421, saying what to do
        if refusal is not None:
            try:
                split_host(host or "")
            except ValueError:
                return refusal  # not even a host name: no ticket makes that a proxy
        owner = self.redeem_ticket(ticket)
        if owner is not None:
            return owner, "direct" if direct else "proxy"
        if refusal is not None:  # no good ticket, and a Host that is not the lab's: refused like any other
            return refusal
        return Decision(403, "this ticket is used up or expired", "run the widget's cell again for a new one")

    def open_runner(self, ticket: str | None, origin: str | None) -> tuple[str, str] | Decision:
        """A browser code runner's unlock (rule 4): ``(cookie value, owner)``, or the refusal.

        ``ticket`` must be a valid ticket of a browser code widget (it is used up) and
        ``origin`` the unlocking page's own origin, which the cookie is then tied to.
        """
        try:
            origin = normalize_origin(origin or "")
        except ValueError:
            return Decision(403, "the runner must be unlocked from its own page", "run the widget's cell again")
        _, owner_of = self.tickets.get(ticket or "", (0.0, ""))
        # its owner is checked before it is used up: another widget's ticket stays good
        owner = self.redeem_ticket(ticket) if owner_of.startswith(RUNNER_OWNER) else None
        if owner is None:
            return Decision(403, "this ticket is used up, expired or not a runner's", "run the widget's cell again")
        now = time.monotonic()
        self.runners = {c: v for c, v in self.runners.items() if v[0] > now}
        for old in list(self.runners)[: max(0, len(self.runners) - MAX_RUNNERS + 1)]:
            del self.runners[old]
        cookie = secrets.token_urlsafe(24)
        self.runners[cookie] = (now + TICKET_TTL, owner, origin)
        return cookie, owner

    def revoke_runners(self, *, owner: str | None = None, origin: str | None = None) -> int:
        """Forget the runner cookies of a widget (``owner``) or made for ``origin`` (a tap that closed)."""
        gone = [c for c, (_, who, made_for) in self.runners.items() if who == owner or made_for == origin]
        for cookie in gone:
            del self.runners[cookie]
        return len(gone)

    def runner_admits(
        self, cookie: str | list[str] | None, origin: str | None, fetch_site: str | None, *, safe: bool = True
    ) -> str | None:
        """The runner's owner if a request with this runner cookie comes from the origin it was made for.

        With no ``Origin`` (a browser leaves it out of a same-origin GET) only a ``safe`` request
        passes, and only if the browser does not say it came from elsewhere: ``Sec-Fetch-Site`` is
        ``same-origin``, or absent (a page on plain http from a name that is not loopback gets no
        ``Sec-Fetch-*`` headers; its cookie is still ``SameSite=Strict``).
        """
        if not cookie:
            return None
        if isinstance(cookie, list):  # every runner cookie the request sent: any good one from its origin
            return next((o for c in cookie if (o := self.runner_admits(c, origin, fetch_site, safe=safe))), None)
        expiry, owner, made_for = self.runners.get(cookie, (0.0, "", ""))
        if expiry <= time.monotonic():
            return None
        if origin is None:
            return owner if safe and fetch_site in (None, "same-origin") else None
        try:
            return owner if normalize_origin(origin) == made_for else None
        except ValueError:
            return None

    def note(self, method: str, path: str, status: int, origin: str | None) -> None:
        """Keep a refusal for the learner to look at (bounded)."""
        self.refused.append((time.perf_counter(), method, path, status, origin))

    def allow_origin(self, origin: str) -> str:
        """Let browser pages from ``origin`` use the lab; returns it normalized."""
        origin = normalize_origin(origin)
        self.allowed_origins = self.allowed_origins | {origin}  # replace: readers never see a half-made set
        return origin

    def allow_host(self, host: str) -> None:
        """Accept requests whose ``Host`` is ``host`` (``"name"`` any port, ``"name:port"`` one)."""
        self.allowed_hosts = self.allowed_hosts | {split_host(host)}

    def own_origins(self) -> set[str]:
        return {f"http://{name}:{port}" for port in self.own_ports for name in ("127.0.0.1", "localhost", "[::1]")}

    def host_allowed(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            name, port = split_host(host)
        except ValueError:
            return False
        if name in LOOPBACK_NAMES or name == self.bound_host.lower():
            return True
        return (name, None) in self.allowed_hosts or (name, port) in self.allowed_hosts

    def origin_allowed(self, origin: str) -> bool:
        try:
            origin = normalize_origin(origin)
        except ValueError:
            return False  # "null", garbage
        return origin in self.allowed_origins or origin in self.own_origins()

    def check(
        self,
        method: str,
        *,
        host: str | None,
        origin: str | None = None,
        content_type: str | None = None,
        fetch_site: str | None = None,
        path: str | None = None,
        runner: str | list[str] | None = None,
    ) -> Decision | None:
        """``None`` if the request may go on, else the :class:`Decision` to refuse it with.

        ``path`` and ``runner`` (the value of its runner cookie, if it sent one) are for rule 4.
        """
        if (method.upper() == "GET" and path == RUNNER_PATH) or (method.upper() == "POST" and path == RUNNER_UNLOCK):
            return self.json_only(method, content_type)  # the page holds no secret; the unlock wants a ticket
        engine_io = path == ENGINE_IO_PATH
        if self.runner_admits(runner, origin, fetch_site, safe=method.upper() in SAFE_METHODS) is not None:
            return self.json_only(method, content_type, path=path)
        if not self.host_allowed(host):
            return Decision(
                421,
                f"this lab does not answer for the host {host!r}",
                "use the lab's own URL (lab.url); to reach it under another name, run lab.allow_host('<name>') first",
            )
        changes_state = method.upper() not in SAFE_METHODS or engine_io  # an Engine.IO GET opens a session
        if origin is not None and not self.origin_allowed(origin):
            return Decision(
                403,
                f"a page from {origin} may not use the lab",
                f"if you trust that page, run lab.allow_origin({origin!r}) in the notebook",
            )
        if origin is None and changes_state and fetch_site in ("cross-site", "same-site"):
            return Decision(
                403,
                "a page from another site may not change anything in the lab",
                "send the request from the notebook (dl.Client) instead",
            )
        return self.json_only(method, content_type, path=path)

    @staticmethod
    def json_only(method: str, content_type: str | None, *, path: str | None = None) -> Decision | None:
        """Rule 3: a request that changes state must carry JSON (Engine.IO's POSTs: text too)."""
        mime = (content_type or "").split(";")[0].strip().lower()
        if path == ENGINE_IO_PATH and method.upper() == "POST" and mime == "text/plain":
            return None
        if method.upper() not in SAFE_METHODS:
            mime = (content_type or "").split(";")[0].strip().lower()
            if mime != "application/json":
                return Decision(
                    415,
                    f"a {method.upper()} must carry JSON, not {mime or 'no Content-Type'}",
                    "send the body as JSON with Content-Type: application/json "
                    "(dl.Client does: client.post(path, json={...}))",
                )
        return None


def runner_tokens(cookie_headers: list[str], name: str) -> list[str]:
    """Every runner cookie's value in a request's ``Cookie`` headers: those called ``name`` or
    ``name_<port>`` (one per page origin, since cookies do not tell ports apart), duplicates included
    (a page on another port may plant one: each is checked, none hides another)."""
    found = []
    for header in cookie_headers:
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if value and (key == name or key.startswith(name + "_")):
                found.append(value)
    return found


def runner_cookie_name(name: str, origin: str) -> str:
    """The runner cookie's name for a page from ``origin``: ``name`` and the origin's port."""
    port = urlsplit(origin).port
    return f"{name}_{port or 0}"
