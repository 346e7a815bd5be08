"""The WebSocket server's smaller pieces: a student's socket count, a catch-up, the one read loop, the logger."""

import json
from typing import cast

import pytest
from websockets.exceptions import ConnectionClosed

from duplexlab.apps.realtime import RealtimeConnection
from duplexlab.apps.realtime.seats import Seats
from duplexlab.apps.realtime.stream import Topic, catch_up
from duplexlab.runtime.classroom import Roster
from duplexlab.runtime.websocket import LOGGER

from .helpers import seconds


def test_the_websocket_logger_filters_closed_connections_once():
    """One filter on the shared logger, not one per definition."""
    assert [type(f).__name__ for f in LOGGER.filters].count("_DropClosedConnections") == 1


def socket() -> RealtimeConnection:
    """A stand-in for a connection: Seats only counts them."""
    return cast(RealtimeConnection, object())


@pytest.fixture
def roster():
    roster = Roster()
    roster.join(roster.code, "asha")
    return roster


def test_a_student_holds_at_most_their_share_of_sockets(roster):
    """Past ``sockets_per_student`` a socket is refused and the limit counted; one leaving frees a place."""
    roster.limits.sockets_per_student = 2
    seats, asha = Seats(roster), roster.named("asha")
    first, second, third = socket(), socket(), socket()
    assert seats.take(first, asha) == "" and seats.take(second, asha) == ""
    assert seats.take(third, asha) == ("you already have 2 sockets open, the most one student may; close one first")
    assert asha.limits_hit["sockets"] == 1 and seats.held(asha) == 2
    seats.leave(first, asha)
    assert seats.take(third, asha) == "" and seats.held(asha) == 2
    seats.leave(second, asha)
    seats.leave(third, asha)
    assert seats.held(asha) == 0


def test_a_student_removed_during_the_handshake_is_refused(roster):
    """Removed between the handshake and the handler: closed with the teacher's reason, not counted."""
    seats, asha = Seats(roster), roster.named("asha")
    roster.remove("asha")
    assert seats.take(socket(), asha) == "removed by the teacher"
    assert asha.limits_hit["sockets"] == 0


def test_catching_up_greets_then_replays_what_was_missed():
    """A client that saw 3 gets the greeting and 4, 5; a new one only the greeting."""
    topic = Topic("numbers")
    for n in range(5):
        topic.publish(n)
    first = [json.loads(text) for text in catch_up(topic, 3, server="A")]
    assert first[0] == {"type": "subscribed", "topic": "numbers", "latest": 5, "oldest": 1, "server": "A"}
    assert [m["seq"] for m in first[1:]] == [4, 5]
    assert [json.loads(text)["type"] for text in catch_up(topic, -1)] == ["subscribed"]


def test_catching_up_past_the_buffer_says_what_is_lost():
    """Kept only 8..10: a client that saw 2 is told 3 to 7 are gone, then gets 8..10."""
    topic = Topic("small", buffer=3)
    for n in range(10):
        topic.publish(n)
    got = [json.loads(text) for text in catch_up(topic, 2)]
    assert got[1]["type"] == "gap" and (got[1]["from"], got[1]["to"]) == (3, 7)
    assert "keeps the last 3" in got[1]["error"] and "follow from 8" in got[1]["hint"]
    assert [m["seq"] for m in got[2:]] == [8, 9, 10]


@pytest.mark.parametrize("path", ["/echo", "/alive", "/chat?name=asha", "/notifications/asha", "/stream/t"])
def test_every_channel_closes_with_1009_past_the_size_limit(lab, path):
    """The one read loop: a message over the limit closes that socket with 1009, on every channel."""
    ws = lab.connect(path, max_size=None)
    ws.send("x" * (lab.websockets.max_size + 1))
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=seconds(3))
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009 and "the limit is" in info.value.rcvd.reason
