"""The resilient client: reconnect with backoff, resume without gaps or duplicates."""

import asyncio
import random
import threading
import time

import pytest

import duplexlab as dl
from duplexlab.clients.resilient import Backoff, State

from .helpers import seconds, wait_for


def test_backoff_grows_caps_and_jitters():
    """Waits double from `first` up to `cap`; each lies between half and all of its base."""
    b = Backoff(first=0.1, cap=1.0, rng=random.Random(3))
    for attempt, base in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)):
        waits = [b.wait(attempt) for _ in range(200)]
        assert base / 2 <= min(waits) and max(waits) <= base
        assert max(waits) - min(waits) > base / 4  # jitter spreads clients out
    with pytest.raises(ValueError):
        b.wait(0)


@pytest.mark.load
def test_ten_thousand_messages_through_a_hundred_cuts_arrive_once_in_order(lab):
    """10,000 numbered messages while the tap cuts the connection 100 times: each arrives once, in order."""
    tap = lab.tap(lab.ws_url)
    client = dl.ResilientClient(tap.url + "/stream/numbers", backoff=Backoff(first=0.01, cap=0.1)).start()
    wait_for(lambda: client.state is State.CONNECTED, why=lambda: client.state, interval=0.005)
    total, cuts = 10_000, 0

    async def publish():
        topic = lab.websockets.topic("numbers")
        for i in range(total):
            topic.publish(i)
            if i % 20 == 19:
                await asyncio.sleep(0.01)

    publisher = threading.Thread(target=lab.run, args=(publish(), 120))
    publisher.start()
    rng = random.Random(2026)
    while cuts < 100:
        time.sleep(rng.uniform(0.005, 0.05))
        if client.state is State.CONNECTED and tap.open_connections:
            cuts += tap.cut()
    publisher.join()
    assert client.wait_for(total, timeout=seconds(30)), client
    wait_for(lambda: client.connections >= 101, timeout=10)  # the last cut's reconnection
    client.close()
    assert cuts == 100 and client.connections >= 101
    assert [data for _, data, _ in client.received] == list(range(total))
    assert client.numbers == list(range(1, total + 1))
    assert client.gaps == [] and client.missing == []


def test_without_resume_a_cut_loses_messages(lab):
    """The same cut with resume off: the client notices what it missed (and cannot get it back)."""
    tap = lab.tap(lab.ws_url)
    client = dl.ResilientClient(tap.url + "/stream/lossy", resume=False, backoff=Backoff(first=0.2, cap=0.2)).start()
    while client.state is not State.CONNECTED:
        time.sleep(0.005)
    for i in range(5):
        lab.publish("lossy", i)
    assert client.wait_for(5)
    tap.cut()
    time.sleep(0.02)
    for i in range(5, 10):
        lab.publish("lossy", i)  # published while the client is away
    wait_for(lambda: client.connections == 2, timeout=5)  # back (it subscribed as its 101 went out)
    lab.publish("lossy", 10)
    assert client.wait_for(6)
    client.close()
    assert [d for _, d, _ in client.received] == [0, 1, 2, 3, 4, 10]
    assert client.missing == [(6, 10)]


def test_a_gap_too_old_to_replay_is_reported(lab):
    """When the buffer no longer holds what was missed, the server says so and the client records it."""
    topic = lab.websockets.topic("small")
    topic.kept = type(topic.kept)(maxlen=3)
    for i in range(10):
        lab.publish("small", i)
    ws = lab.connect("/stream/small?last=2")
    import json

    hello, gap = json.loads(ws.recv(timeout=2)), json.loads(ws.recv(timeout=2))
    assert hello["latest"] == 10 and hello["oldest"] == 8
    assert (gap["type"], gap["from"], gap["to"]) == ("gap", 3, 7)
    assert "no longer kept" in gap["error"] and "reload" in gap["hint"]
    assert [json.loads(ws.recv(timeout=2))["seq"] for _ in range(3)] == [8, 9, 10]


def test_gives_up_after_max_attempts_and_says_so():
    """With no server at all, the client gives up after max_attempts and its state says so."""
    client = dl.ResilientClient(
        "ws://127.0.0.1:9/stream/x", max_attempts=3, backoff=Backoff(first=0.01, cap=0.02)
    ).start()
    wait_for(lambda: client.state is State.GAVE_UP, why=lambda: client.history, interval=0.01)
    states = [s for _, s in client.history]
    assert states[0] is State.CONNECTING and states.count(State.RECONNECTING) == 3
    client.close()
