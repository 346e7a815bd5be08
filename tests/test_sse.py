"""The event-stream format (pure), and the lab's long-polling and SSE endpoints (real sockets)."""

import time

import pytest

from duplexlab.wire import sse
from duplexlab.wire.sse import EventParser, ServerSentEvent, encode

from .helpers import seconds


def test_encode_then_parse_round_trips_byte_by_byte():
    """Encoded events parse back the same, even when fed one byte at a time."""
    wire = encode(retry=1500, comment="hello") + encode("line 1\nline 2", event="note", id=7) + encode("x")
    parser = EventParser()
    events = [e for i in range(len(wire)) for e in parser.feed(wire[i : i + 1])]
    assert events == [ServerSentEvent("line 1\nline 2", "note", "7", 1500), ServerSentEvent("x", "message", "7", 1500)]
    assert parser.last_event_id == "7"


def test_the_first_name_of_an_event_still_works():
    """``dl.sse.Event`` is the same class as ``ServerSentEvent``: code that used the first name still runs."""
    assert sse.Event is ServerSentEvent and "Event" in sse.__all__
    assert sse.Event("x") == ServerSentEvent("x", "message", "", None)


def test_parser_follows_the_standard_on_edge_cases():
    """CRLF and CR line ends, a BOM, comments, no space after the colon, data-less events."""
    parser = EventParser()
    got = parser.feed(b"\xef\xbb\xbfdata:a\r\n\r\n: comment\rid: 3\revent: e\r\r")
    got += parser.feed(b"data: b\r")
    assert got == [ServerSentEvent("a", "message", "", None)]  # the id-only event dispatches nothing
    got = parser.feed(b"\n\n")
    assert got == [ServerSentEvent("b", "message", "3", None)]


def test_an_id_counts_when_its_block_ends_even_without_data():
    """As the HTML standard's dispatch: ``id: 9`` alone moves the last event id; a cut-off block's id does not."""
    parser = EventParser()
    parser.feed(b"id: 3\ndata: a\n\nid: 9\n\n")
    assert parser.last_event_id == "9"
    parser.feed(b"id: 10\ndata: cut off before its blank line")
    assert parser.last_event_id == "9"
    parser.feed(b"\n\n")
    assert parser.last_event_id == "10"


def test_encode_refuses_line_breaks_in_ids():
    """An id or event name with a line break would corrupt the stream: refused."""
    with pytest.raises(ValueError, match="line breaks"):
        encode("x", id="1\n2")
    with pytest.raises(ValueError, match="nothing to encode"):
        encode()


def test_long_poll_is_answered_the_moment_the_event_happens(lab):
    """A held request returns right after the notification is created, not at its timeout."""
    client = lab.client()
    due = lab.schedule(0.3, "meera", "now")
    reply = client.get("/api/users/meera/notifications/wait", params={"after": 0, "timeout": 10})
    assert reply.json()["notifications"][0]["text"] == "now"
    assert 0 <= reply.t_done - due < seconds(0.05)


def test_long_poll_times_out_with_an_empty_answer(lab):
    """With no news, the held request answers after its timeout with timed_out true."""
    reply = lab.client().get("/api/users/meera/notifications/wait", params={"after": 0, "timeout": 0.3})
    assert reply.json() == {"user": "meera", "notifications": [], "last_id": 0, "timed_out": True}
    assert 0.3 <= reply.elapsed < 0.3 + seconds(0.2)
    bad = lab.client(check=False).get("/api/users/meera/notifications/wait", params={"timeout": 999})
    assert bad.status == 400 and "timeout" in bad.json()["error"]


def test_sse_streams_events_and_resumes_after_last_event_id(lab):
    """Events arrive on one response; reconnecting with Last-Event-ID replays only the missed ones."""
    client = lab.client()
    for i in range(3):
        lab.notify("ravi", f"n{i}")
    first = client.events("/api/users/ravi/events", count=2, timeout=seconds(2))
    assert [e.event.id for e in first] == ["1", "2"] and first[0].event.event == "notification"
    lab.notify("ravi", "n3")
    resumed = client.events("/api/users/ravi/events", count=10, timeout=0.5, last_event_id=first[-1].event.id)
    assert [e.json()["text"] for e in resumed] == ["n2", "n3"]
    assert resumed[0].event.retry == 1000


def test_sse_pushes_live_events_quickly(lab):
    """A notification created while the stream is open arrives within milliseconds."""
    due = lab.schedule(0.3, "kabir", "live")
    got = lab.client().events("/api/users/kabir/events", count=1, timeout=seconds(3))
    assert got[0].json()["text"] == "live"
    assert 0 <= got[0].t - due < seconds(0.05)


def test_bad_last_event_id_is_refused(lab):
    """A Last-Event-ID that is not a notification id gets 400 with a hint."""
    reply = lab.client(check=False).get("/api/users/kabir/events", headers={"Last-Event-ID": "abc"})
    assert reply.status == 400 and "Last-Event-ID" in reply.json()["error"]


def test_closing_the_lab_ends_open_streams_quickly(lab):
    """Stopping a lab with an SSE stream and a held long poll open takes well under a second."""
    import threading

    import duplexlab as dl

    client = lab.client(timeout=5)
    ended = []

    def listen():
        try:
            client.events("/api/users/z/events", count=1, timeout=3)
        except dl.LabNotRunningError as exc:
            ended.append(exc)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    lab.close()
    assert time.perf_counter() - t0 < seconds(2)
    listener.join(seconds(2))
    assert ended and "stopped while" in str(ended[0])


def test_a_resumed_stream_sends_missed_events_before_live_ones_even_if_one_comes_at_once(lab):
    """Resuming with Last-Event-ID: the missed events come first, in order, then a live one made at once."""
    import threading

    first = lab.notify("ordered", "one").id
    lab.notify("ordered", "two")
    lab.notify("ordered", "three")
    got = []

    def read() -> None:
        got.extend(lab.client().events("/api/users/ordered/events", count=3, timeout=5, last_event_id=str(first)))

    reader = threading.Thread(target=read)
    reader.start()
    lab.notify("ordered", "four")  # while the stream is being opened
    reader.join(10)
    texts = [e.json()["text"] for e in got]
    assert texts == ["two", "three", "four"], texts


def test_until_ends_the_stream_and_a_reconnect_past_it_gets_204(lab):
    """?until=N: the stream ends after notification N; a reconnect with Last-Event-ID N gets 204 No Content,
    which tells a browser's EventSource to stop reconnecting (lesson 03's deep dive)."""
    notes = [lab.notify("meera", f"m{i}") for i in range(3)]
    last = notes[1].id
    t0 = time.perf_counter()
    got = lab.client().events(f"/api/users/meera/events?until={last}", count=10, timeout=seconds(3))
    assert [e.json()["text"] for e in got] == ["m0", "m1"], "the stream ends after the last one asked for"
    assert time.perf_counter() - t0 < seconds(2), "it ended; the client did not wait out its timeout"
    client = lab.client(check=False)
    again = client.get(f"/api/users/meera/events?until={last}", headers={"Last-Event-ID": str(last)})
    assert again.status == 204 and again.body == b""
    for bad in ("0", "x", "-3"):
        reply = client.get(f"/api/users/meera/events?until={bad}")
        assert reply.status == 400 and "until" in reply.json()["error"]
