"""Plots draw what they are given (on an Agg canvas in tests)."""

import matplotlib

matplotlib.use("Agg")  # tests only: no kernel here to show images
import matplotlib.pyplot as plt

from duplexlab.show import plots
from duplexlab.wire.capture import Counts


def test_timeline_draws_events_requests_and_the_wait_on_the_server():
    """One marker per server event and per request; each learned event's wait drawn on the server's
    row (not as travel), with its length; a legend entry for every kind of mark."""
    fig, ax = plt.subplots()
    plots.timeline({1: 0.5, 2: 1.5}, [(0.0, 0.01), (1.0, 1.01), (2.0, 2.01)], {1: 1.01, 2: 2.01}, ax=ax)
    server, client = ax.collections[:2]
    assert len(server.get_offsets()) == 2 and len(client.get_offsets()) == 3
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["waited 510 ms", "waited 510 ms"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(legend) == {
        "request in flight (sent → answered)",
        "server creates a notification",
        "client sends a request",
        "news waits on the server",
        "client learns of it",
    }
    plt.close(fig)


def test_bytes_split_stacks_header_and_body():
    """Two bars per direction, with the totals written beside them."""
    fig, ax = plt.subplots()
    plots.bytes_split(Counts(header_bytes_up=150, header_bytes_down=160, body_bytes_down=120), ax=ax)
    assert len(ax.patches) == 4
    assert any("280 B (160 header)" in t.get_text() for t in ax.texts)
    plt.close(fig)
