"""The lab's WebSocket server (the ``websockets`` library): chat, pushed notifications, echo.

One server, routed by path:

- ``/chat?name=asha``          a chat room: everyone gets every message, and who is online
- ``/notifications/<user>``    the social app pushes each new notification of ``<user>``;
                               ``?after=N`` first sends those after id N (fetch, then subscribe)
- ``/echo``                    sends every message back (for measuring round trips)
- ``/alive``                   holds a line open, so a widget notices when the lab stops
- ``/stream/<topic>?last=N``   numbered messages; a client that reconnects with the last
                               number it saw gets what it missed (from a bounded buffer)
- ``/private/<user>``          every notification of ``<user>``, private ones included, after
                               ``{"type": "auth", "token": ...}``

Every message is a JSON object with a ``type``. A malformed one gets
``{"type": "error", "error": ..., "hint": ...}`` back and the connection stays
open; a message over ``max_size`` closes that connection with 1009, and the
server goes on serving the others. Per-message compression is off, so a tap
shows payloads as they are.

Security: every handshake passes the lab's request policy
(:mod:`duplexlab.runtime.policy`: the ``Host`` must name the lab, a browser's
``Origin`` must be allowed, else 421/403). Chat messages are rate-limited (1008
when exceeded); in a classroom a student holds at most ``sockets_per_student``
sockets and spends every message on any of them from one budget of messages and
bytes a second (:class:`~duplexlab.runtime.classroom.ClassLimits`; 1008 and the
reason beyond either); private notifications travel only on ``/private/<user>``, which
wants an unexpired token in the first message, never in the URL, where logs
would keep it; a bad token closes with 1008. A handler that fails closes its
socket with 1011. Connections are counted at the lab's connection gate (503
over the limit) and must finish the handshake within ``open_timeout``. The
server keeps the last ``MAX_RECORDS`` connection records and at most
``MAX_TOPICS`` topics.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ..errors import PortInUseError, is_address_in_use
from ..runtime.classroom import Roster, Student, bearer
from ..runtime.hygiene import ConnectionGate
from ..runtime.policy import TICKET_PREFIX, Decision, RequestPolicy, single
from ..runtime.websocket import LOGGER, close_server, gated_connection
from .notifications import Notification, NotificationStore, valid_user

__all__ = [
    "ConnectionRecord",
    "RealtimeServer",
    "Topic",
    "parse_message",
]


MAX_MESSAGE = 64 * 1024  # per message, checked by each channel (1009 beyond)
MAX_WIRE = 2 * 1024 * 1024  # per message, checked by the library while reading (1009 beyond)
MAX_RECORDS = 2_000
MAX_REFUSED = 1_000
MAX_TOPICS = 100
MAX_TOKEN = 128
TOKEN_TTL = 3600.0
TOPIC_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SLOW_READER = 1024 * 1024  # bytes waiting in a socket's write buffer before it is let go
CHAT_RATE = 20  # messages per second per connection
AUTH_TIMEOUT = 5.0
TOPIC_BUFFER = 10_000
SEND_QUEUE = 20_000


def _readers(connections) -> list[ServerConnection]:
    """The connections that keep up; those with over ``SLOW_READER`` bytes unsent are closed (1013).

    ``broadcast`` has no backpressure: without this, a client that never reads
    would make the lab hold every message for it in memory.
    """
    keep = []
    for ws in connections:
        transport = ws.transport
        if transport is not None and transport.get_write_buffer_size() > SLOW_READER:
            if not getattr(ws, "_duplexlab_slow", False):
                ws._duplexlab_slow = True
                asyncio.get_running_loop().create_task(ws.close(1013, "you read too slowly; reconnect and catch up"))
            continue
        keep.append(ws)
    return keep


def parse_message(raw: str | bytes, *, types: tuple[str, ...]) -> dict:
    """A client's message as a dict with a known ``type``, else ``ValueError`` saying why."""
    if isinstance(raw, bytes):
        raise ValueError("binary messages are not used here; send JSON text")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError('a message is a JSON object with a "type"')
    if data["type"] not in types:
        raise ValueError(f"unknown type {data['type']!r}; this channel takes {', '.join(types)}")
    return data


def valid_topic(name: str) -> str:
    """Return ``name`` if it is a valid topic name, else raise ``ValueError``."""
    if not isinstance(name, str) or not TOPIC_PATTERN.fullmatch(name):
        raise ValueError(f"topic names are 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-', not {name!r}")
    return name


def _error(error: str, hint: str) -> str:
    return json.dumps({"type": "error", "error": error, "hint": hint})


@dataclass
class ConnectionRecord:
    """One WebSocket connection as the server saw it. Times are on the lab clock."""

    id: int
    path: str
    origin: str | None
    t_open: float
    t_close: float | None = None
    close_code: int | None = None
    close_reason: str = ""
    received: int = 0
    sent: int = 0
    bytes_sent: int = 0  # of the messages' payloads (UTF-8), as a dashboard counts push load
    owner: str | None = None  # who holds it: a ticket's widget, or an X-Duplexlab-Owner label
    via: str = "direct"  # how a browser widget's socket came: "direct", "proxy" (the notebook server's) or "bridge"

    @property
    def open(self) -> bool:
        return self.t_close is None

    def count_sent(self, message: str | bytes) -> None:
        """One more message sent on this connection."""
        self.sent += 1
        self.bytes_sent += len(message) if isinstance(message, bytes) or message.isascii() else len(message.encode())


@dataclass
class _Room:
    members: dict[ServerConnection, str] = field(default_factory=dict)
    records: dict[ServerConnection, ConnectionRecord] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=50))  # (from, text)

    def online(self) -> list[str]:
        return sorted(set(self.members.values()))

    def broadcast(self, connections, message: str) -> None:
        """Send ``message`` to those of ``connections`` that keep up, and count it on their records."""
        readers = _readers(connections)
        broadcast(readers, message)
        for ws in readers:
            record = self.records.get(ws)
            if record is not None:
                record.count_sent(message)


class Topic:
    """Numbered messages on one topic, with the last ``buffer`` kept for replay.

    Not thread-safe on purpose: used on the lab's loop only.
    """

    def __init__(self, name: str, *, buffer: int = TOPIC_BUFFER) -> None:
        self.name = name
        self.seq = 0
        self.kept: collections.deque[tuple[int, str]] = collections.deque(maxlen=buffer)
        self.queues: set[asyncio.Queue] = set()

    @property
    def oldest(self) -> int:
        """The oldest number still kept (``seq + 1`` when nothing is kept)."""
        return self.kept[0][0] if self.kept else self.seq + 1

    def publish(self, data: object) -> int:
        self.seq += 1
        text = json.dumps(
            {"type": "message", "topic": self.name, "seq": self.seq, "data": data, "t": time.perf_counter()}
        )
        self.kept.append((self.seq, text))
        for queue in list(self.queues):
            queue.put_nowait(text)
        return self.seq


def _select_subprotocol(connection: ServerConnection, offered) -> str | None:
    """Answer ``duplexlab`` to a client that offers it (the browser widget, with its ticket)."""
    return "duplexlab" if "duplexlab" in offered else None


def close_request(message: object) -> tuple[int, str] | None:
    """``(code, reason)`` if ``message`` is a browser widget's ``{"type": "close", "code": …, "reason": …}``.

    ``jupyter-server-proxy`` does not pass close codes on (it closes its side of the
    socket without one), so a widget that reached the lab through it says how it
    closes in a last message, and the lab closes with that code and reason.
    """
    if not isinstance(message, str) or len(message) > 300 or '"close"' not in message:
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "close":
        return None
    code, reason = data.get("code"), data.get("reason", "")
    if not isinstance(code, int) or not (code in (1000, 1001) or 3000 <= code <= 4999):
        return None
    if not isinstance(reason, str) or len(reason.encode()) > 123:
        return None
    return code, reason


def _closing_on_request(base: type[ServerConnection]) -> type[ServerConnection]:
    """``base``, where a socket that came through the notebook server's proxy may ask to be closed, and
    a classroom student's socket spends every message it receives from their budget (1008 past it)."""

    class ProxiedClose(base):  # type: ignore[valid-type,misc]
        async def recv(self, decode=None):
            message = await super().recv(decode)
            if getattr(self, "duplexlab_via", "") == "proxy" and (close := close_request(message)):
                await self.close(*close)
                return await super().recv(decode)  # raises ConnectionClosedOK: the handler ends as on a close
            spend = getattr(self, "duplexlab_spend", None)  # a classroom student's budget, across their sockets
            if spend is not None:
                size = len(message) if isinstance(message, bytes) or message.isascii() else len(message.encode())
                if why := spend(size):
                    closing = asyncio.ensure_future(self.close(1008, why))
                    try:
                        while True:  # drop what is already on its way, so the client's close frame is read
                            await super().recv(decode)
                    finally:  # the loop ends with ConnectionClosed: the handler ends as on a close
                        await closing
            return message

    return ProxiedClose


class RealtimeServer:
    """The WebSocket server; start with ``await server.start()`` on the lab loop.

    Args:
        notifications: the store whose notifications it pushes.
        policy: the lab's request policy (a fresh one allows loopback hosts, no origins).
        gate: the lab's connection gate (a fresh one sized from the open-file limit).
        name: in a cluster, this server's name, told to each client in its "subscribed" greeting.
        roster: in classroom mode, whose credentials open sockets (``Authorization: Bearer …``).
    """

    def __init__(
        self,
        notifications: NotificationStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_size: int = MAX_MESSAGE,
        policy: RequestPolicy | None = None,
        gate: ConnectionGate | None = None,
        name: str = "",
        roster: Roster | None = None,
    ) -> None:
        self.notifications = notifications
        self.roster = roster  # classroom mode: every handshake carries a credential
        self.name = name  # in a cluster, which server this is (said in each "subscribed" greeting)
        self.host, self.port, self.max_size = host, port, max_size
        self.policy = policy or RequestPolicy(bound_host=host)
        self.gate = gate or ConnectionGate()
        self.room = _Room()
        self.topics: dict[str, Topic] = {}
        self.refused: collections.deque[tuple[float, str, str, int]] = collections.deque(
            maxlen=MAX_REFUSED
        )  # (t, origin, path, status)
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expiry on the lab clock)
        self._closed_records: collections.deque[ConnectionRecord] = collections.deque(maxlen=MAX_RECORDS)
        self._open: dict[int, ConnectionRecord] = {}
        self._subscribers: dict[str, dict[ServerConnection, ConnectionRecord]] = {}
        self._private_subscribers: dict[str, dict[ServerConnection, ConnectionRecord]] = {}
        self._by_student: dict[str, set[ServerConnection]] = {}  # a classroom student's open sockets
        self._unsubscribe: Callable[[], None] | None = None
        self._ids = itertools.count(1)
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def allowed_origins(self) -> set[str]:
        """The browser origins the lab's policy allows (change them with ``lab.allow_origin``)."""
        return self.policy.allowed_origins

    @property
    def records(self) -> list[ConnectionRecord]:
        """The connections, in the order they opened: all open ones, and the last closed ones.

        At most ``MAX_RECORDS`` closed connections are kept, so a long-running
        lab's memory does not grow with every connection it ever had.
        """
        return sorted([*self._closed_records, *self._open.values()], key=lambda r: r.id)

    @property
    def open_connections(self) -> list[ConnectionRecord]:
        return sorted(self._open.values(), key=lambda r: r.id)

    async def start(self) -> None:
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                compression=None,
                logger=LOGGER,
                max_size=MAX_WIRE,
                process_request=self._check_request,
                select_subprotocol=_select_subprotocol,  # type: ignore[arg-type]
                create_connection=_closing_on_request(gated_connection(self.gate)),
            )
        except OSError as exc:
            if is_address_in_use(exc):
                raise PortInUseError(self.host, self.port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.notifications.subscribe(self._push_notification)

    async def close_owned_by(self, owner: str, code: int, reason: str, *, grace: float = 0.3) -> tuple[int, int]:
        """Close every open connection whose owner is ``owner`` (on the loop): ``code`` and ``reason`` at
        once, then, ``grace`` seconds later, cut those whose closing handshake has not finished (a client
        that never reads or never answers). Returns (how many, how many of them were cut)."""
        server = self._server
        theirs = [c for c in (server.connections if server else ()) if getattr(c, "duplexlab_owner", None) == owner]
        if not theirs:
            return 0, 0
        closing = [asyncio.ensure_future(c.close(code, reason)) for c in theirs]
        _, pending = await asyncio.wait(closing, timeout=grace)
        cut = 0
        for connection in theirs:
            if connection.state is not State.CLOSED and connection.transport is not None:
                connection.transport.abort()
                cut += 1
        for task in pending:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)
        return len(theirs), cut

    async def close(self, *, grace: float = 0.4) -> None:
        """Stop serving: every connection gets 1001 at once and ``grace`` seconds, then is cut."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        server, self._server = self._server, None
        if server is not None:
            await close_server(server, grace=grace)

    # -- the handshake ------------------------------------------------------

    def topic(self, name: str) -> Topic:
        """The topic called ``name``, made if new (``ValueError`` past ``MAX_TOPICS`` or a bad name)."""
        if name not in self.topics:
            valid_topic(name)
            if len(self.topics) >= MAX_TOPICS:
                idle = [t for t in self.topics.values() if not t.queues]
                if not idle:
                    raise ValueError(f"the lab already keeps {MAX_TOPICS} topics, all in use; reuse one of them")
                del self.topics[idle[0].name]  # forget the oldest topic nobody follows
            self.topics[name] = Topic(name)
        return self.topics[name]

    def issue_token(self, user: str, *, ttl: float = TOKEN_TTL) -> str:
        """A secret token for ``user``'s private channel, valid for ``ttl`` seconds."""
        valid_user(user)
        now = time.perf_counter()
        self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now}  # drop expired ones
        token = secrets.token_urlsafe(16)
        self.tokens[token] = (user, now + ttl)
        return token

    def token_user(self, token: object) -> tuple[str | None, str]:
        """Whose token this is, or ``(None, why not)``."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return None, f"invalid token: it must be a string of 1 to {MAX_TOKEN} characters"
        user, expiry = self.tokens.get(token, (None, 0.0))
        if user is None:
            return None, "invalid token: not one the lab issued"
        if expiry <= time.perf_counter():
            return None, "invalid token: it has expired"
        return user, ""

    def _refuse(
        self, connection: ServerConnection, request: Request, status: HTTPStatus, text: str, origin: str | None
    ) -> Response:
        self.refused.append((time.perf_counter(), origin or "", request.path, int(status)))
        return connection.respond(status, text)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        def one(name: str) -> str | None:
            return single(request.headers.get_all(name))

        origin = one("Origin")
        host = one("Host")
        offered = [p.strip() for value in request.headers.get_all("Sec-WebSocket-Protocol") for p in value.split(",")]
        ticket = next((p.removeprefix(TICKET_PREFIX) for p in offered if p.startswith(TICKET_PREFIX)), None)
        if ticket is not None:
            admitted = self.policy.admit(ticket, host)
            if isinstance(admitted, Decision):
                return self._refuse(
                    connection, request, HTTPStatus(admitted.status), f"{admitted.error}; {admitted.hint}\n", origin
                )
            owner, via = admitted
            if self.roster is not None and owner.startswith("student:") and owner[8:] not in self.roster.students:
                return self._refuse(
                    connection, request, HTTPStatus.FORBIDDEN, "this student was removed from the class\n", origin
                )
            if via == "direct" and one("X-Duplexlab-Route") == "bridge":
                via = "bridge"  # the kernel, holding this socket for a browser view (a label, not a permission)
            elif via == "direct" and "duplexlab.via.proxy" in offered:
                via = "proxy"  # a proxy that keeps a loopback Host (Docker, an SSH tunnel): the page says so
            connection.duplexlab_owner = owner  # type: ignore[attr-defined]  # a ticket stands in for an Origin
            connection.duplexlab_via = via  # type: ignore[attr-defined]
            if self.roster is not None and owner.startswith("student:"):
                connection.duplexlab_seat = owner.removeprefix("student:")  # type: ignore[attr-defined]
                self._mark_student(connection, self.roster.named(connection.duplexlab_seat))  # type: ignore[attr-defined]
            return self._check_seat(connection, request, origin) or self._check_path(connection, request)
        if self.roster is not None:
            student = self.roster.student(bearer(one("Authorization")))
            if student is None:
                return self._refuse(
                    connection,
                    request,
                    HTTPStatus.UNAUTHORIZED,
                    "this classroom lab needs your credential in an Authorization header (or it was revoked); "
                    'join with dl.join(url, code, name="you") and use seat.connect(path)\n',
                    origin,
                )
            connection.duplexlab_owner = f"student:{student.name}"  # type: ignore[attr-defined]
            if not student.teacher:
                connection.duplexlab_seat = student.name  # type: ignore[attr-defined]  # acts only as themselves
                self._mark_student(connection, student)
        refusal = self.policy.check("GET", host=host, origin=origin, fetch_site=one("Sec-Fetch-Site"))
        if refusal is not None:
            return self._refuse(
                connection, request, HTTPStatus(refusal.status), f"{refusal.error}; {refusal.hint}\n", origin
            )
        seat = self._check_seat(connection, request, origin)
        if seat is not None:
            return seat
        response = self._check_path(connection, request)
        if response is not None:
            self.refused.append((time.perf_counter(), origin or "", request.path, response.status_code))
        return response

    def _mark_student(self, connection: ServerConnection, student: Student | None) -> None:
        """A classroom student's socket: counted among theirs, and every message it brings spent from their budget."""
        roster = self.roster
        if student is None or roster is None:
            return
        connection.duplexlab_student = student  # type: ignore[attr-defined]
        connection.duplexlab_spend = lambda size: roster.spend(student, size, time.monotonic())  # type: ignore[attr-defined]

    def _check_seat(self, connection: ServerConnection, request: Request, origin: str | None) -> Response | None:
        """In a classroom, a student's socket follows only their own notifications (403 otherwise)."""
        seat = getattr(connection, "duplexlab_seat", None)
        if seat is None:
            return None  # not a classroom, or the teacher: any user
        path = urlsplit(request.path).path
        for prefix in ("/private/", "/notifications/"):
            user = path.removeprefix(prefix) if path.startswith(prefix) else None
            if user is not None and user != seat:
                return self._refuse(
                    connection,
                    request,
                    HTTPStatus.FORBIDDEN,
                    f"you are {seat}: in a classroom you may follow only your own notifications, not {user}'s; "
                    f"connect to {prefix}{seat}\n",
                    origin,
                )
        return None

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path.startswith("/stream/"):
            topic = path.removeprefix("/stream/")
            last = parse_qs(urlsplit(request.path).query).get("last", ["-1"])[0]
            if not topic or not last.lstrip("-").isdigit():
                return connection.respond(
                    HTTPStatus.BAD_REQUEST, "connect to /stream/<topic>?last=<the last number you saw>\n"
                )
            try:
                self.topic(topic)
            except ValueError as exc:
                return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}\n")
            return None
        for prefix in ("/private/", "/notifications/"):
            if path.startswith(prefix):
                try:
                    valid_user(path.removeprefix(prefix))
                except ValueError as exc:
                    return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}\n")
                after = parse_qs(urlsplit(request.path).query).get("after", ["0"])[0]
                if prefix == "/notifications/" and not after.isdigit():
                    return connection.respond(
                        HTTPStatus.BAD_REQUEST,
                        "connect to /notifications/<user>?after=<the last notification id you have>\n",
                    )
                return None
        if path == "/chat":
            if getattr(connection, "duplexlab_seat", None) is not None:
                return None  # a classroom student chats under their seat's name, whatever name= says
            name = parse_qs(urlsplit(request.path).query).get("name", [""])[0]
            try:
                valid_user(name)
            except ValueError as exc:
                return connection.respond(HTTPStatus.BAD_REQUEST, f"{exc}; connect to /chat?name=asha\n")
            return None
        if path in ("/echo", "/alive"):
            return None
        return connection.respond(
            HTTPStatus.NOT_FOUND,
            f"no WebSocket endpoint at {path}; use /chat?name=<you>, /notifications/<user>, "
            "/stream/<topic>?last=N, /private/<user> or /echo\n",
        )

    # -- connections --------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None  # a handler runs after the handshake
        parts = urlsplit(request.path)
        record = ConnectionRecord(
            next(self._ids),
            request.path,
            request.headers.get("Origin"),
            time.perf_counter(),
            owner=getattr(ws, "duplexlab_owner", None) or request.headers.get("X-Duplexlab-Owner"),
            via=getattr(ws, "duplexlab_via", "direct"),
        )
        self._open[record.id] = record
        student: Student | None = getattr(ws, "duplexlab_student", None)
        theirs = self._by_student.setdefault(student.name, set()) if student is not None else None
        try:
            if student is not None and theirs is not None and self.roster is not None:
                if student.removed:  # removed while this handshake was on its way
                    await ws.close(1008, "removed by the teacher")
                    return
                limit = self.roster.limits.sockets_per_student
                if len(theirs) >= limit:  # counted and checked in one step: no await since the handshake
                    student.limits_hit["sockets"] += 1
                    await ws.close(
                        1008, f"you already have {len(theirs)} sockets open, the most one student may; close one first"
                    )
                    return
                theirs.add(ws)
            if parts.path == "/chat":
                asked = parse_qs(parts.query).get("name", [""])[0]
                seat = getattr(ws, "duplexlab_seat", None)
                await self._chat(ws, record, seat or asked, asked=asked, seat=seat is not None)
            elif parts.path == "/echo":
                await self._echo(ws, record)
            elif parts.path == "/alive":
                async for _ in ws:  # a widget's line to the lab: it only notices when it ends
                    record.received += 1
            elif parts.path.startswith("/stream/"):
                last = int(parse_qs(parts.query).get("last", ["-1"])[0])
                await self._stream(ws, record, parts.path.removeprefix("/stream/"), last)
            elif parts.path.startswith("/private/"):
                await self._private(ws, record, parts.path.removeprefix("/private/"))
            else:
                after = parse_qs(parts.query).get("after", [None])[0]
                await self._notifications(
                    ws, record, parts.path.removeprefix("/notifications/"), after=None if after is None else int(after)
                )
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug must not leave the socket open and silent
            LOGGER.error("%s failed: %s: %s", parts.path, type(exc).__name__, exc)
            await ws.close(1011, f"internal error ({type(exc).__name__}); see the lab's log")
        finally:
            if theirs is not None:
                theirs.discard(ws)
                if not theirs and student is not None:
                    self._by_student.pop(student.name, None)
            await ws.wait_closed()
            record.t_close = time.perf_counter()
            received, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
            if received is not None and (sent is None or ws.protocol.close_rcvd_then_sent):
                record.close_code, record.close_reason = received.code, received.reason  # the client closed
            elif sent is not None:  # the lab closed (the code a client echoes may come without its reason)
                record.close_code, record.close_reason = sent.code, sent.reason
            else:
                record.close_code = 1006  # no close frame either way: the connection was cut
            # Complete before it leaves the open list: a reader on another thread sees it closed, with its code.
            self._open.pop(record.id, None)
            self._closed_records.append(record)

    async def _send(self, ws: ServerConnection, record: ConnectionRecord, text: str) -> None:
        await ws.send(text)
        record.count_sent(text)

    async def _too_big(self, ws: ServerConnection, raw: str | bytes) -> bool:
        """Close with 1009 if ``raw`` is over the message limit; say whether it was."""
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size <= self.max_size:
            return False
        await ws.close(1009, f"a message of {size} bytes; the limit is {self.max_size}")
        return True

    async def _echo(self, ws: ServerConnection, record: ConnectionRecord) -> None:
        async for message in ws:
            record.received += 1
            if await self._too_big(ws, message):
                return
            await ws.send(message)
            record.count_sent(message)

    async def _chat(
        self, ws: ServerConnection, record: ConnectionRecord, name: str, *, asked: str = "", seat: bool = False
    ) -> None:
        """The chat room; ``seat``: a classroom student, who is ``name`` (their seat's) in every socket."""
        room = self.room
        wanted, taken, n = name, set(room.members.values()), 1
        while name in taken and not seat:  # names are unique in the room: a second asha is asha-2
            n += 1
            name = f"{wanted[:29]}-{n}"
        room.members[ws] = name
        room.records[ws] = record
        try:
            welcome = {"type": "welcome", "you": name, "online": room.online()}
            if seat and asked != name:
                told = f", not {asked}" if asked else ""
                welcome["renamed"] = f"in a classroom you chat under your seat's name: you are {name}{told}"
            elif name != wanted:
                welcome["renamed"] = f"{wanted} is already in the room; you are {name}"
            await self._send(ws, record, json.dumps(welcome))
            others = [m for m in room.members if m is not ws]
            room.broadcast(others, json.dumps({"type": "presence", "joined": name, "online": room.online()}))
            window: collections.deque[float] = collections.deque()
            async for raw in ws:
                record.received += 1
                if await self._too_big(ws, raw):
                    return
                now = time.perf_counter()
                window.append(now)
                while window and now - window[0] > 1.0:
                    window.popleft()
                if len(window) > CHAT_RATE:
                    closing = asyncio.get_running_loop().create_task(
                        ws.close(1008, f"rate limit: more than {CHAT_RATE} messages a second")
                    )
                    async for _ in ws:
                        pass  # drop what is already on its way, so the client's close frame is read
                    await closing
                    return
                try:
                    data = parse_message(raw, types=("message",))
                    text = data.get("text")
                    if not isinstance(text, str) or not text:
                        raise ValueError('a chat message needs a non-empty "text"')
                except ValueError as exc:
                    await self._send(ws, record, _error(str(exc), 'send {"type": "message", "text": "hi"}'))
                    continue
                out = json.dumps(
                    {"type": "message", "id": next(room.ids), "from": name, "text": text, "t": time.perf_counter()}
                )
                room.recent.append((name, text))
                room.broadcast(room.members, out)
        finally:
            room.members.pop(ws, None)
            room.records.pop(ws, None)
            room.broadcast(room.members, json.dumps({"type": "presence", "left": name, "online": room.online()}))

    def _push_notification(self, note: Notification) -> None:
        """Store listener: write the notification to every socket of its user at once.

        A private notification goes only to the user's authenticated ``/private/`` sockets.
        """
        groups = [self._private_subscribers.get(note.user)]
        if not note.private:
            groups.append(self._subscribers.get(note.user))
        text = None
        for subscribers in groups:
            if subscribers:
                if text is None:
                    text = json.dumps({"type": "notification", **note.to_json(), "t_sent": time.perf_counter()})
                fast = _readers(subscribers)
                broadcast(fast, text)  # one serialization, no task switch per socket
                for ws in fast:
                    subscribers[ws].count_sent(text)

    async def _notifications(
        self,
        ws: ServerConnection,
        record: ConnectionRecord,
        user: str,
        *,
        private: bool = False,
        after: int | None = None,
    ) -> None:
        """Push ``user``'s notifications; with ``after``, first those after that id (the ones missed).

        The replay is written in the same step that subscribes the socket, so no
        notification falls between "what you had" and "what is pushed", and none comes twice.
        """
        channel = self._private_subscribers if private else self._subscribers
        hello = {"type": "subscribed", "user": user, "private": private, **({"server": self.name} if self.name else {})}
        await self._send(ws, record, json.dumps(hello))
        channel.setdefault(user, {})[ws] = record
        if after is not None:
            for note in self.notifications.for_user(user, after=after, private=private):
                replayed = json.dumps(
                    {"type": "notification", **note.to_json(), "t_sent": time.perf_counter(), "replayed": True}
                )
                broadcast([ws], replayed)
                record.count_sent(replayed)
        try:
            async for raw in ws:
                record.received += 1
                if await self._too_big(ws, raw):
                    return
                try:
                    parse_message(raw, types=("ping",))
                except ValueError as exc:
                    await self._send(
                        ws, record, _error(str(exc), 'this channel only pushes; you may send {"type": "ping"}')
                    )
                    continue
                await self._send(ws, record, json.dumps({"type": "pong", "t": time.perf_counter()}))
        finally:
            subscribers = channel.get(user, {})
            subscribers.pop(ws, None)
            if not subscribers:
                channel.pop(user, None)

    async def _stream(self, ws: ServerConnection, record: ConnectionRecord, name: str, last: int) -> None:
        topic = self.topic(name)
        queue: asyncio.Queue[str] = asyncio.Queue()
        hello = {"type": "subscribed", "topic": name, "latest": topic.seq, "oldest": topic.oldest}
        if self.name:
            hello["server"] = self.name
        queue.put_nowait(json.dumps(hello))
        if last >= 0:
            if last + 1 < topic.oldest:
                queue.put_nowait(
                    json.dumps(
                        {
                            "type": "gap",
                            "from": last + 1,
                            "to": topic.oldest - 1,
                            "error": f"messages {last + 1} to {topic.oldest - 1} are no longer kept "
                            f"(the server keeps the last {topic.kept.maxlen})",
                            "hint": f"reload the whole state, then follow from {topic.oldest}",
                        }
                    )
                )
            for seq, text in topic.kept:
                if seq > last:
                    queue.put_nowait(text)
        topic.queues.add(queue)  # no await since the replay: nothing published in between is lost
        # A server behind a cluster's shared log has not yet applied numbers the client already has:
        # its next live messages, up to `last`, are dropped here, never sent twice.
        stale = range(queue.qsize(), queue.qsize() + max(0, last - topic.seq))

        async def send_all() -> None:
            for n in itertools.count():
                if queue.qsize() > SEND_QUEUE:
                    await ws.close(1013, "you read too slowly; reconnect with ?last=<the last number you saw>")
                    return
                text = await queue.get()
                if n not in stale:
                    await self._send(ws, record, text)

        sender = asyncio.get_running_loop().create_task(send_all())
        try:
            async for raw in ws:
                record.received += 1
                if await self._too_big(ws, raw):
                    return
                await self._send(
                    ws, record, _error("this stream only sends", "reconnect with ?last=N to resume instead")
                )
        finally:
            topic.queues.discard(queue)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _private(self, ws: ServerConnection, record: ConnectionRecord, user: str) -> None:
        try:
            raw = await asyncio.wait_for(ws.recv(), AUTH_TIMEOUT)
            record.received += 1
            if len(raw) > self.max_size:
                raise ValueError(f"the first message is {len(raw)} bytes; an auth message is short")
            data = parse_message(raw, types=("auth",))
        except TimeoutError:
            await ws.close(1008, f'send {{"type": "auth", "token": ...}} within {AUTH_TIMEOUT:g} s')
            return
        except ValueError as exc:
            await ws.close(1008, f'the first message must be {{"type": "auth", "token": ...}}: {str(exc)[:60]}')
            return
        owner, why = self.token_user(data.get("token"))
        if owner != user:
            why = why or "invalid token: it belongs to another user"
            await ws.close(1008, f"{why}; get a token for {user} with lab.issue_token({user!r})"[:120])
            return
        await self._notifications(ws, record, user, private=True)
