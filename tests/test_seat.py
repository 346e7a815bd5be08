"""A seat's daemon threads lose nothing silently: what they could not do is logged, with why."""

from __future__ import annotations

import logging

from duplexlab.clients.seat import Seat

from .helpers import free_port


def _seat_nowhere() -> Seat:
    port = free_port()  # nothing listens there: every request is refused
    return Seat(f"http://127.0.0.1:{port}", "asha", "credential", f"ws://127.0.0.1:{port}")


def test_a_check_report_the_dashboard_misses_is_logged(caplog):
    """A report to a lab that is gone does not raise; the log says which check was lost, and why."""
    seat = _seat_nowhere()
    with caplog.at_level(logging.DEBUG, logger="duplexlab.clients.seat"):
        seat.report("fetch_new", "✓", wait=True)
    (record,) = [r for r in caplog.records if r.name == "duplexlab.clients.seat"]
    assert "asha's check fetch_new" in record.getMessage() and record.exc_info is not None


def test_a_ticket_a_seat_socket_cannot_renew_is_logged(caplog, monkeypatch):
    """When the teacher's lab is gone, renewing a SeatSocket's ticket fails on its thread, and says so."""
    from duplexlab.show.widgets.browser import SeatSocket

    seat, answers = _seat_nowhere(), ["first"]
    monkeypatch.setattr(seat, "ticket", lambda: answers.pop() if answers else Seat.ticket(seat))  # then: refused
    widget = SeatSocket(seat, "/echo")
    try:
        assert widget.ticket == "first"
        with caplog.at_level(logging.DEBUG, logger="duplexlab.show.widgets.browser"):
            widget._renew().join(5)
        (record,) = [r for r in caplog.records if r.name == "duplexlab.show.widgets.browser"]
        assert "no next ticket for asha's" in record.getMessage() and record.exc_info is not None
        assert widget.ticket == "first"
    finally:
        widget.close()
