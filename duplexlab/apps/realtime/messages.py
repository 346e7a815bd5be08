"""What travels on the lab's WebSocket channels, as plain functions: no socket here.

Every message is a JSON object with a ``type``. :func:`parse_message` says why
one is not, :func:`error` is the answer a malformed one gets, and
:func:`close_request` reads a browser widget's last message, which asks the lab
to close its socket with a code (the notebook server's proxy passes none on).

Example::

    parse_message('{"type": "ping"}', types=("ping",))   # {"type": "ping"}
    parse_message("{oops", types=("ping",))              # ValueError: malformed JSON at line 1 ...
"""

from __future__ import annotations

import json

__all__ = ["close_request", "error", "parse_message", "size_of"]


def size_of(message: str | bytes) -> int:
    """A message's size in bytes on the wire (text counts as UTF-8)."""
    return len(message) if isinstance(message, bytes) or message.isascii() else len(message.encode())


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


def error(error: str, hint: str) -> str:
    """The message a client gets for a message the channel cannot take; its connection stays open."""
    return json.dumps({"type": "error", "error": error, "hint": hint})


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
