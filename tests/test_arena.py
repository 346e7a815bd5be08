"""Side by side: four transports on the same events, and a classroom of clients."""

import logging
import random

import pytest

import duplexlab as dl
from duplexlab.experiments.arena import TRANSPORTS, event_times

from .helpers import SEEDS


def test_event_times_have_the_rate_and_bursts():
    """Event times fall in the window, at about the rate; bursts group them 5 ms apart."""
    import random

    times = event_times(10, 100, rng=random.Random(1))
    assert all(0.2 <= t < 100 for t in times) and times == sorted(times)
    assert 900 <= len(times) <= 1100
    bursty = event_times(10, 100, burstiness=5, rng=random.Random(1))
    gaps = [b - a for a, b in zip(bursty, bursty[1:])]
    assert sum(abs(g - 0.005) < 1e-9 for g in gaps) > len(gaps) / 2
    with pytest.raises(ValueError, match="burstiness"):
        event_times(1, 10, burstiness=0.5)


def test_all_four_transports_deliver_every_event():
    """Every event reaches every transport; polling's delay is near interval/2, push's far below."""
    with dl.Arena() as arena:
        result = arena.run(rate=10, duration=2.5, poll_interval=0.4, seed=5)
    assert set(result.results) == set(TRANSPORTS) and result.event_times
    for r in result.results.values():
        assert r.delivered_share == 1.0, r
        assert r.bytes_total > 0 and r.cpu_seconds > 0
    polling, ws = result.results["polling"], result.results["WebSocket"]
    # the mean over ~25 events, not the median of a few: events that bunch up just before
    # one poll would make a median of 7 look like push (it did once)
    mean_delay = sum(polling.delays) / len(polling.delays)
    assert 0.08 <= mean_delay <= 0.32, polling.delays
    assert ws.delay_ms(50) < 50
    # about one request per event; on a busy machine a client slow to ask again gets two close events in
    # one answer (17 requests for 19 events twice here, beside two CPU burners): more is push's
    assert result.results["long polling"].requests_per_event >= 0.75
    assert ws.requests == result.results["SSE"].requests == 1
    assert ws.bytes_per_event < result.results["long polling"].bytes_per_event


def test_a_run_ends_at_its_last_delivery_not_a_grace_later():
    """A run lasts ``duration`` or until the last delivery, whichever is later, not the whole grace."""
    with dl.Arena() as arena:
        push = arena.run(rate=6, duration=1.0, poll_interval=2.0, seed=4, tap=False, transports=("SSE", "WebSocket"))
        polled = arena.run(rate=6, duration=1.0, poll_interval=2.0, seed=4, tap=False, transports=("polling",))
    for r in push.results.values():
        assert r.delivered_share == 1.0 and 1.0 <= r.seconds < 1.25, (r.name, r.seconds)
    r = polled.results["polling"]
    last_delivery = push.event_times[-1] + max(r.delays)
    assert r.delivered_share == 1.0 and r.seconds < last_delivery + 0.25, (r.seconds, last_delivery)


def test_unknown_transport_is_refused():
    """Asking for a transport that does not exist names the ones that do."""
    with dl.Arena() as arena, pytest.raises(ValueError, match="choose from"):
        arena.run(transports=("carrier pigeon",))


@pytest.mark.load
def test_a_classroom_of_1000_returns_and_warns_nothing(caplog, recwarn):
    """1,000 clients per transport through the classroom widget: it returns, every transport
    delivers (at least 99 % of deliveries, on a loaded 2-core machine), nothing is logged or warned."""
    caplog.set_level(logging.WARNING)
    with dl.Arena() as arena:
        room = dl.widgets.Classroom(arena, autorun=False, duration=1.0)
        run = room.measure(1000)[1000]
    assert set(run.results) == set(TRANSPORTS)
    for r in run.results.values():
        assert r.clients == 1000 and r.delivered_share >= 0.99, (r.name, r.delivered_share)
    assert room.plot.png.startswith(b"\x89PNG") and "N = 1000" in room.plot.alt
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_6_claims_hold_or_say_what_happened_instead_for_any_seed(seed):
    """With five seeds, lesson 6's default runs print every claim as ✓ or ✗ with a reason; never nan or inf."""
    with dl.Arena() as arena:
        plain = arena.run(rate=70, duration=1.0, poll_interval=1.0, seed=seed)
        bursty = arena.run(rate=70, burstiness=5, duration=1.0, poll_interval=1.0, seed=seed)
    assert plain.seed == seed and len(plain.event_times) >= 40
    text = "\n".join([plain.table(), plain.claims(), plain.compare_bursts(bursty), bursty.table()])
    assert "nan" not in text and "inf" not in text, text
    claims = [
        line for line in (plain.claims() + "\n" + plain.compare_bursts(bursty)).splitlines() if line and line[0] in "✓✗"
    ]
    assert len(claims) >= 5, text
    for line in claims:
        assert line.startswith("✓") or ":" in line.split("✗", 1)[1], line  # a ✗ says why
    assert sum(line.startswith("✓") for line in claims) >= len(claims) - 2, text


def test_a_run_is_the_same_for_the_same_seed_and_the_default_comes_from_the_environment(monkeypatch):
    """Seeds make runs repeat; DUPLEXLAB_SEED sets the default; a bad value says what to do."""
    from duplexlab.experiments.seeds import DEFAULT_SEED, default_seed

    assert event_times(10, 2, rng=random.Random(3)) == event_times(10, 2, rng=random.Random(3))
    monkeypatch.delenv("DUPLEXLAB_SEED", raising=False)
    assert default_seed() == DEFAULT_SEED
    monkeypatch.setenv("DUPLEXLAB_SEED", "7")
    assert default_seed() == 7
    monkeypatch.setenv("DUPLEXLAB_SEED", "seven")
    with pytest.raises(ValueError, match="whole number"):
        default_seed()


def test_the_shared_arena_is_the_same_each_time_its_cell_runs_and_starts_again_after_stop():
    first = dl.Arena.shared()
    try:
        assert dl.Arena.shared() is first  # re-running 06's first cell starts no second four labs
        ports = {name: lab.port for name, lab in first.labs.items()}
        assert len(ports) == 4
        dl.stop()
        assert first.closed
        again = dl.Arena.shared()
        assert again is first and not again.closed
        assert again.run(rate=20, duration=0.3, poll_interval=0.2, transports=("WebSocket",)).results
    finally:
        first.close()
