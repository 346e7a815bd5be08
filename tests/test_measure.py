"""Statistics and timelines, with no sockets."""

import pytest

from duplexlab.measure import first_seen, percentile, reveal, summarize


def test_summarize_known_values():
    """summarize gives the textbook mean, median, extremes and percentiles."""
    s = summarize([1, 2, 3, 4, 100])
    assert (s.n, s.mean, s.median, s.min, s.max) == (5, 22, 3, 1, 100)
    assert s.p90 == pytest.approx(61.6)
    assert s.scaled(1000).median == 3000


def test_percentile_interpolates_and_refuses_nonsense():
    """percentile interpolates; empty input or p outside 0..100 raise ValueError."""
    assert percentile([0, 10], 50) == 5
    with pytest.raises(ValueError, match="measure something"):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)
    with pytest.raises(ValueError, match="empty"):
        summarize([])


def test_first_seen_takes_the_earliest_sighting_after_creation():
    """An event is learned at the first answer that holds it, never before it existed."""
    created = {1: 0.5, 2: 1.2, 3: 9.0}
    sightings = [(2.0, [1, 2]), (1.0, [1]), (0.1, [2])]
    assert first_seen(created, sightings) == {1: 1.0, 2: 2.0}


def test_reveal_hides_the_measurement_until_there_is_a_guess():
    """An unset guess asks for one and shows no number; a guess is shown beside theory and measurement."""
    unset = str(reveal(None, measured=4, theory=4, unit="requests", details="3 said not yet"))
    assert unset.startswith("○ Make your guess first") and "my_guess" in unset
    assert not any(ch.isdigit() for ch in unset), unset  # neither the numbers nor the details show
    assert "3 said not yet" in str(reveal(5, measured=4, details="3 said not yet"))
    close = str(reveal(4, measured=4.2, theory=4, unit="requests"))
    assert "your guess: 4 requests" in close and "theory: 4 requests" in close and "measured: 4.20 requests" in close
    assert "✓ close" in close
    far = str(reveal(1, measured=4, unit="requests", name="my_guess_requests"))
    assert "off by 3 requests" in far and "theory" not in far


def test_reveal_says_what_to_write_when_the_guess_is_not_a_number():
    """A guess typed as text gets a TypeError that shows a number to write instead."""
    with pytest.raises(TypeError, match="should be a number, like 3"):
        reveal("three", measured=3)


def test_added_delay_prints_no_number_inside_the_noise():
    """A hop smaller than what twenty tries vary by is "nothing measurable", never a negative delay;
    a hop well outside the noise is printed in ms."""
    from duplexlab.experiments import added_delay

    before = summarize([1.0, 1.2, 1.4, 1.1, 1.3] * 4)
    assert added_delay(before, summarize([0.9, 1.1, 1.3, 1.0, 1.2] * 4)).startswith("nothing measurable (noise ±")
    assert added_delay(before, summarize([1.05, 1.25, 1.45, 1.15, 1.35] * 4)).startswith("nothing measurable")
    assert added_delay(before, summarize([3.0, 3.2, 3.4, 3.1, 3.3] * 4)) == "2.00 ms"
