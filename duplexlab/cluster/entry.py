"""The shared log's one schema: what an entry may be, checked in one place (no sockets here).

Every server appends entries to the backplane's log and applies every entry it
reads, its own and the others'. Anyone who can write to the log could write
anything, so an entry is checked both ways, here only:

- ``{"op": "notify", "user": <user name>, "text": <1 to 4,000 characters>, "kind": <up to 64>}``
- ``{"op": "publish", "topic": <topic name>, "data": [<up to 10,000 JSON values>]}``

and at most :data:`MAX_ENTRY` bytes of JSON. :func:`encode` gives what a server
appends (or raises :class:`BadEntry` saying what to send instead); :func:`decode`
gives what a server applies, or raises :class:`BadEntry`, and the reader skips
and counts that entry and goes on.

Example::

    encode({"op": "notify", "user": "meera", "text": "hi"})   # b'{"op": "notify", ...}'
    decode(b"[1]")   # BadEntry: an entry is a JSON object, not a list
"""

from __future__ import annotations

import json
from typing import Any

from ..apps.notifications import MAX_TEXT, valid_user
from ..apps.realtime import TOPIC_BUFFER, valid_topic
from ..errors import DuplexLabError

__all__ = ["MAX_ENTRY", "BadEntry", "check", "decode", "encode"]

MAX_ENTRY = 256 * 1024  # bytes of one entry's JSON
MAX_KIND = 64
FIELDS = {"notify": {"op", "user", "text", "kind"}, "publish": {"op", "topic", "data"}}


class BadEntry(DuplexLabError, ValueError):
    """An entry that is not the log's schema; the message says what is wrong."""


def check(data: Any) -> dict:
    """``data`` as a log entry (only its fields), or :class:`BadEntry` saying what is wrong."""
    if not isinstance(data, dict):
        raise BadEntry(f"an entry is a JSON object, not {type(data).__name__ if data is not None else 'null'}")
    op = data.get("op")
    if op not in FIELDS:
        raise BadEntry(f"an entry's op is 'notify' or 'publish', not {str(op)[:40]!r}")
    extra = set(data) - FIELDS[op]
    if extra:
        raise BadEntry(f"a {op} entry has only {', '.join(sorted(FIELDS[op]))}; not {', '.join(sorted(extra))[:80]}")
    try:
        if op == "notify":
            text, kind = data.get("text"), data.get("kind", "message")
            if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
                raise BadEntry(f"a notify entry's text is 1 to {MAX_TEXT} characters")
            if not isinstance(kind, str) or len(kind) > MAX_KIND:
                raise BadEntry(f"a notify entry's kind is a string of up to {MAX_KIND} characters")
            return {"op": op, "user": valid_user(data.get("user")), "text": text, "kind": kind}  # type: ignore[arg-type]
        items = data.get("data")
        if not isinstance(items, list) or len(items) > TOPIC_BUFFER:
            raise BadEntry(f"a publish entry's data is a list of up to {TOPIC_BUFFER} messages")
        return {"op": op, "topic": valid_topic(data.get("topic")), "data": items}  # type: ignore[arg-type]
    except BadEntry:
        raise
    except ValueError as exc:  # a user or topic name that is not one
        raise BadEntry(str(exc)) from None


def encode(data: Any) -> bytes:
    """The JSON a server appends for ``data``; :class:`BadEntry` if it is not an entry, or too big."""
    raw = json.dumps(check(data)).encode()
    if len(raw) > MAX_ENTRY:
        raise BadEntry(f"an entry is at most {MAX_ENTRY} bytes of JSON, not {len(raw)}; send less at a time")
    return raw


def decode(raw: Any) -> dict:
    """The entry in ``raw`` (bytes of JSON read from the log), or :class:`BadEntry` saying why not."""
    if not isinstance(raw, bytes | str):
        raise BadEntry("an entry is one field 'e' of JSON text")
    if len(raw) > MAX_ENTRY:
        raise BadEntry(f"{len(raw)} bytes; an entry is at most {MAX_ENTRY}")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadEntry(f"not JSON: {str(exc)[:60]}") from None
    return check(data)
