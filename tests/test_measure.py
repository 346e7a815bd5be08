"""Statistics and timelines, with no sockets."""

import pytest

from duplexlab.measure import first_seen, percentile, summarize


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
