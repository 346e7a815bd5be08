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

The pieces, one module each:

- :mod:`.admission`   who may open a socket, on which path: one :class:`Admission` per connection
- :mod:`.routes`      the route table, read at the handshake to check a path and after it to serve it
- :mod:`.connection`  the connection that keeps its admission; the one read loop and the one fan-out
- :mod:`.seats`       a classroom student's open sockets
- :mod:`.records`     what the server remembers of each connection
- :mod:`.messages`    message formats, as plain functions
- :mod:`.chat`, :mod:`.feed`, :mod:`.private`, :mod:`.stream`, :mod:`.echo`   the channels
- :mod:`.server`      :class:`RealtimeServer`, which ties them together
"""

from __future__ import annotations

from .admission import Admission, Credential
from .chat import CHAT_RATE
from .connection import SLOW_READER, RealtimeConnection
from .messages import close_request, parse_message
from .private import AUTH_TIMEOUT, MAX_TOKEN, TOKEN_TTL
from .records import MAX_RECORDS, ConnectionRecord
from .server import MAX_MESSAGE, MAX_REFUSED, MAX_WIRE, RealtimeServer
from .stream import MAX_TOPICS, SEND_QUEUE, TOPIC_BUFFER, TOPIC_PATTERN, Topic, valid_topic

__all__ = [
    "AUTH_TIMEOUT",
    "CHAT_RATE",
    "MAX_MESSAGE",
    "MAX_RECORDS",
    "MAX_REFUSED",
    "MAX_TOKEN",
    "MAX_TOPICS",
    "MAX_WIRE",
    "SEND_QUEUE",
    "SLOW_READER",
    "TOKEN_TTL",
    "TOPIC_BUFFER",
    "TOPIC_PATTERN",
    "Admission",
    "ConnectionRecord",
    "Credential",
    "RealtimeConnection",
    "RealtimeServer",
    "Topic",
    "close_request",
    "parse_message",
    "valid_topic",
]
