"""Plots draw what they are given (on an Agg canvas in tests)."""

import matplotlib

matplotlib.use("Agg")  # tests only: no kernel here to show images
import matplotlib.pyplot as plt

from duplexlab.show import plots
from duplexlab.wire.capture import Counts


def test_timeline_draws_events_requests_and_arrows():
    """One marker per server event, one per request, one arrow and label per learned event."""
    fig, ax = plt.subplots()
    plots.timeline({1: 0.5, 2: 1.5}, [(0.0, 0.01), (1.0, 1.01), (2.0, 2.01)], {1: 1.01, 2: 2.01}, ax=ax)
    server, client = ax.collections[:2]
    assert len(server.get_offsets()) == 2 and len(client.get_offsets()) == 3
    labels = [t.get_text() for t in ax.texts]
    assert "510 ms" in labels and len(ax.texts) == 4  # 2 arrows + 2 delay labels
    plt.close(fig)


def test_bytes_split_stacks_header_and_body():
    """Two bars per direction, with the totals written beside them."""
    fig, ax = plt.subplots()
    plots.bytes_split(Counts(header_bytes_up=150, header_bytes_down=160, body_bytes_down=120), ax=ax)
    assert len(ax.patches) == 4
    assert any("280 B (160 header)" in t.get_text() for t in ax.texts)
    plt.close(fig)
