"""A page's socket lifecycle: open on mount, close (1000, "unmount") on unmount."""

import pytest

import duplexlab as dl

from .helpers import seconds, wait_for


def test_mount_collects_pushes_and_unmount_closes(lab):
    """Inside the block pushes are collected; leaving it closes the socket with 1000."""
    with dl.Page(lab, "/notifications/meera") as page:
        assert page.mounted
        wait_for(lambda: lab.ws_connections == 1)  # the server counts it just after its 101
        lab.notify("meera", "hello")
        assert page.wait_for("notification", timeout=seconds(2))["text"] == "hello"
    assert not page.mounted
    wait_for(lambda: lab.ws_connections == 0, timeout=2, interval=0.01)
    record = lab.websockets.records[-1]
    assert (record.close_code, record.close_reason) == (1000, "unmount")
    page.unmount()  # twice is harmless


def test_unmount_happens_even_when_the_block_fails(lab):
    """An exception inside the block still closes the socket."""
    with pytest.raises(ZeroDivisionError):
        with dl.Page(lab, "/notifications/kabir"):
            _ = 1 / 0
    wait_for(lambda: lab.ws_connections == 0, timeout=2, interval=0.01)


def test_waiting_for_nothing_times_out_and_sending_unmounted_is_refused(lab):
    """wait_for names what did not come; send() on an unmounted page says how to mount."""
    page = dl.Page(lab, "/notifications/ravi")
    with pytest.raises(RuntimeError, match="not mounted"):
        page.send({"type": "ping"})
    with page:
        with pytest.raises(TimeoutError, match="'notification'"):
            page.wait_for("notification", timeout=0.2)
        page.send({"type": "ping"})
        assert page.wait_for("pong", timeout=seconds(2))["type"] == "pong"
