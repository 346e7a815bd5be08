"""The lab: start, stop, serve, and survive bad input."""

import socket
import threading
import time

import pytest

import duplexlab as dl

from .helpers import free_port, lab_threads, open_fds, seconds, wait_for


def test_blocking_cell_then_blocking_call_returns(default_lab):
    """time.sleep then a blocking client call returns: the lab's loop is not the caller's."""
    client = default_lab.client()
    t0 = time.perf_counter()
    time.sleep(2)
    assert client.get("/api/health").json()["ok"] is True
    assert time.perf_counter() - t0 < seconds(3)


def test_start_three_times_gives_one_lab_and_one_thread():
    """Re-running the start cell returns the same lab; one loop thread exists."""
    try:
        labs = [dl.start() for _ in range(3)]
        assert labs[0] is labs[1] is labs[2]
        assert len(lab_threads()) == 1
        assert labs[0].servers == {"http": labs[0].url, "websocket": labs[0].ws_url}
    finally:
        dl.stop()
    dl.stop()
    assert lab_threads() == []


def test_twenty_start_stop_cycles_leak_nothing():
    """20 start/request/stop cycles leave no extra thread and no open file descriptor."""
    dl.start().client().get("/api/health")  # warm imports and lazy allocations once
    dl.stop()
    threads, fds = threading.active_count(), open_fds()
    for _ in range(20):
        lab = dl.start()
        lab.client().get("/api/health")
        tap = lab.tap()
        lab.client(tap.url).get("/api/health")
        dl.stop()
    assert threading.active_count() == threads
    assert open_fds() == fds


def test_other_settings_restart_the_lab():
    """dl.start(port=P) after dl.start() replaces the lab with one on port P."""
    port = free_port()
    try:
        first = dl.start()
        second = dl.start(port=port)
        assert second is not first and not first.running
        assert second.port == port
        assert dl.start(port=port) is second
    finally:
        dl.stop()


def test_port_taken_names_the_port_and_the_fix():
    """A fixed port held by another program raises PortInUseError with the fix."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(dl.PortInUseError) as info:
            dl.Lab(port=port).start()
    assert str(port) in str(info.value) and "port=0" in str(info.value)
    assert lab_threads() == []


def test_stopped_lab_says_how_to_restart(lab):
    """Using a stopped lab raises LabNotRunningError that names dl.start()."""
    lab.close()
    with pytest.raises(dl.LabNotRunningError, match=r"dl\.start"):
        _ = lab.url


def test_notify_and_schedule_create_notifications_on_the_server(lab):
    """notify() is immediate; schedule() creates the notification at the due time."""
    client = lab.client()
    lab.notify("asha", "hello")
    due = lab.schedule(0.2, "asha", "later", kind="friend-accepted")
    assert [n["text"] for n in client.get("/api/users/asha/notifications").json()["notifications"]] == ["hello"]
    listed = lambda: client.get("/api/users/asha/notifications").json()["notifications"]
    wait_for(lambda: len(listed()) == 2, timeout=2, why=listed)  # the loop creates it at the due time
    notes = listed()
    assert [n["text"] for n in notes] == ["hello", "later"]
    assert notes[1]["kind"] == "friend-accepted"
    assert 0 <= notes[1]["t"] - due < seconds(0.1)


@pytest.mark.parametrize(
    "method, path, body, status, words",
    [
        ("GET", "/api/notifications/999", None, 404, "no notification with id"),
        ("GET", "/api/notifications/abc", None, 404, "list a user's"),
        ("GET", "/api/nothing-here", None, 404, "the lab serves"),
        ("POST", "/api/users/asha/notifications", b'{"text": "hi",}', 400, "malformed JSON at line 1 column"),
        ("POST", "/api/users/asha/notifications", b"[1, 2]", 400, "expected a JSON object"),
        ("POST", "/api/users/asha/notifications", b'{"kind": "x"}', 400, "'text'"),
        ("POST", "/api/users/asha/notifications", b"\xff\xfe", 400, "not UTF-8"),
        ("POST", "/api/users/asha/notifications", b"x" * 70_000, 413, "limit"),
        ("GET", "/api/users/NOT%20OK/notifications", None, 400, "user names"),
        ("GET", "/api/users/asha/notifications?after=soon", None, 400, "whole number"),
        ("DELETE", "/api/users/asha/notifications", None, 405, "not allowed"),
    ],
)
def test_bad_requests_get_json_errors_and_the_lab_keeps_serving(lab, method, path, body, status, words):
    """Each bad request gets its status, a JSON error and a hint; the next request works."""
    client = lab.client(check=False)
    reply = client.request(method, path, data=body, headers={"Content-Type": "application/json"})
    assert reply.status == status
    data = reply.json()
    assert words in data["error"] + data["hint"]
    assert data["hint"]
    assert client.get("/api/health").json()["ok"] is True


def test_error_reply_raises_with_the_servers_words(lab):
    """With check on, a 404 raises HTTPStatusError carrying the server's error and hint."""
    with pytest.raises(dl.HTTPStatusError) as info:
        lab.client().get("/api/notifications/7")
    assert info.value.status == 404
    assert "no notification with id '7'" in str(info.value)
    assert "hint:" in str(info.value)


def test_arun_awaits_work_on_the_lab_loop_from_another_loop(lab):
    """lab.arun(coro) runs coro on the lab's thread and can be awaited from any other loop."""
    import asyncio

    async def where():
        return threading.current_thread().name

    async def main():
        return await lab.arun(where())

    assert asyncio.run(main()) == "duplexlab-lab"


def test_on_tap_tells_of_each_new_tap_until_stopped(lab):
    """lab.on_tap(callback) hears of every tap started later, and of none once its stop function ran."""
    first = lab.tap()
    heard: list = []
    stop_telling = lab.on_tap(heard.append)
    second = lab.tap()
    stop_telling()
    third = lab.tap()
    assert heard == [second]
    assert lab.taps == [first, second, third]
    assert all(tap.lab is lab and tap.loop is lab.loop for tap in lab.taps)


@pytest.mark.parametrize("failing", ["websocket", "cluster"])
def test_a_failed_start_step_undoes_the_steps_before_it(monkeypatch, failing):
    """The WebSocket server or the cluster failing to start leaves no thread, no socket, no half-bound store."""
    from duplexlab.apps.realtime import RealtimeServer
    from duplexlab.lab import Cluster

    dl.Lab().start().close()  # warm imports and lazy allocations once
    threads, fds = threading.active_count(), open_fds()

    async def refuse(self, *args, **kwargs):
        raise OSError("no")

    def refuse_cluster(self):
        raise OSError("no")

    if failing == "websocket":
        monkeypatch.setattr(RealtimeServer, "start", refuse)
    else:
        monkeypatch.setattr(Cluster, "start", refuse_cluster)
    lab = dl.Lab(servers=2 if failing == "cluster" else 1)
    with pytest.raises(OSError, match="no"):
        lab.start()
    assert not lab.running and lab.cluster is None and not lab.loop.running
    assert lab.notifications.add("asha", "still a plain store").id == 1
    assert threading.active_count() == threads
    assert open_fds() == fds
