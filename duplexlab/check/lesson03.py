"""Checks for lesson 3, long polling and server-sent events."""

from __future__ import annotations

from collections.abc import Callable

from ..lab import current
from ..wire.sse import EventParser, encode
from .result import check, fail, new_user

__all__ = ["event_data", "resume_id"]


@check
def event_data(fn: Callable[[str], list]) -> str:
    """Lesson 3: ``fn(text)`` returns the data of each event in an event-stream text."""

    stream = (
        encode(retry=1000, comment="hello")
        + encode("first", id=1)
        + encode("two\nlines", event="note", id=2)
        + encode(comment="keep-alive")
        + encode('{"json": true}', id=3)
    ).decode()
    want = [e.data for e in EventParser().feed(stream.encode())]
    got = fn(stream)
    if got != want:
        raise fail(
            f"for the stream\n{stream}\nthe event data are {want!r}, yours gave {got!r}. "
            "Events end at a blank line; join several data: lines with a newline; skip ':' comments"
        )
    return "event_data reads events, multi-line data and comments right."


@check
def resume_id(fn: Callable[[str], str]) -> str:
    """Lesson 3: ``fn(text)`` is the ``Last-Event-ID`` to send after reading an event-stream ``text``.

    It is the id of the last block that ended (at a blank line), even a block with no
    ``data:`` (``id: 9`` alone moves it to 9); a block without an ``id:`` line keeps the one
    before; ``id:`` with nothing after it clears it; a block cut off before its blank line
    never happened. The check then resumes a real stream
    with your answer.
    """
    cases = {
        "id: 1\ndata: a\n\nid: 2\ndata: b\n\n": "2",
        "id: 7\ndata: a\n\ndata: no id here\n\n": "7",
        "id: 3\ndata: a\n\nid: 4\ndata: cut off before its blank line": "3",
        ": a comment\nid: 12\nevent: notification\ndata: x\n\n": "12",
        "id: 5\ndata: a\n\nid:\ndata: b\n\n": "",
        "id: 3\ndata: a\n\nid: 9\n\n": "9",  # a block with only an id still moves it
        "id: 6\ndata: a\n\n: keep-alive\nid: 8\n\n": "8",
        "data: nothing has an id\n\n": "",
    }
    for text, want in cases.items():
        got = fn(text)
        if got != want:
            raise fail(f"after reading {text!r} the id to send is {want!r}, not {got!r}")
    lab = current()
    user = new_user("resume")
    notes = [lab.notify(user, f"note {i}") for i in range(4)]
    text = "".join(encode(f"note {i}", id=n.id).decode() for i, n in enumerate(notes[:2]))
    resumed = lab.client().events(f"/api/users/{user}/events", count=2, timeout=3, last_event_id=fn(text))
    texts = [e.json()["text"] for e in resumed]
    if texts != ["note 2", "note 3"]:
        raise fail(f"resuming with your id gave {texts}, not the two notes the client missed")
    return "resume_id works: a real stream resumed with your id and sent exactly the two missed notes."
