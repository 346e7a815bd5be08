"""Everything the lab hands out, it owns: dl.stop() closes it all, fast, and nothing is left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

import duplexlab as dl
from duplexlab.clients.resilient import State

from .helpers import seconds, wait_for
from .test_kernel import run_cells

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.kernel
def test_twenty_one_liner_clients_then_stop_leave_nothing_in_a_kernel():
    """20 × dl.Client(lab.url).get(...) then dl.stop(): threads and fds back to the baseline, no "Unclosed"."""
    out = run_cells(
        "import json, os, threading, duplexlab as dl\n"
        "lab = dl.start()\n"
        "lab.client().get('/api/health')\n"
        "dl.stop()\n"
        "before = (threading.active_count(), len(os.listdir('/proc/self/fd')))\n"
        "lab = dl.start()",
        "for _ in range(20):\n    dl.Client(lab.url).get('/api/health')",
        "import gc; gc.collect()\n"
        "dl.stop()\n"
        "after = (threading.active_count(), len(os.listdir('/proc/self/fd')))\n"
        "print(json.dumps([before, after, [t.name for t in threading.enumerate()]]))",
    )
    assert "Unclosed" not in "".join(out), out
    before, after, names = json.loads(out[2])
    assert after[0] <= before[0], names
    assert after[1] <= before[1] + 2, (before, after)


def test_stop_with_twenty_chat_sockets_full_of_unread_messages_takes_under_a_second():
    """20 chat sockets, each holding 50 unread messages: dl.stop() returns within 1 s."""
    lab = dl.start()
    sockets = [lab.connect(f"/chat?name=reader{i}") for i in range(20)]
    witness = lab.connect("/chat?name=witness")
    talkers = [lab.connect(f"/chat?name=talker{i}") for i in range(5)]  # 10 each, under the rate limit
    for k in range(10):
        for talker in talkers:
            talker.send(json.dumps({"type": "message", "text": f"message {k}"}))
    said = 0
    while said < 50:  # the witness reads them all, so the readers have them too, unread
        said += json.loads(witness.recv(timeout=seconds(5)))["type"] == "message"
    t0 = time.perf_counter()
    dl.stop()
    took = time.perf_counter() - t0
    assert took <= seconds(1.0), took
    assert all(ws.state.name == "CLOSED" for ws in [*sockets, witness, *talkers])


@pytest.mark.process
@pytest.mark.load
def test_stop_with_a_thousand_idle_sockets_from_another_process_takes_under_a_second():
    """1,000 idle WebSockets held by another process: dl.stop() returns within 1 s."""
    lab = dl.start()
    proc = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "clients.py"), "idle", lab.ws_url, "1000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        # "ready" means each client saw its 101; the server counts a socket a moment later.
        wait_for(lambda: lab.ws_connections >= 1000, timeout=5)
        t0 = time.perf_counter()
        dl.stop()
        took = time.perf_counter() - t0
        assert took <= seconds(1.0), took
    finally:
        proc.kill()
        proc.communicate(timeout=10)  # reads the pipes, so the wait can't hang on them


@pytest.mark.process
def test_the_judge_works_again_after_a_restart():
    """start → 8 concurrent submissions → stop → start → 8 more: all 16 judged."""
    judged = 0
    for _ in range(2):
        lab = dl.start()
        client = lab.client()
        subs = [client.post("/api/judge/submissions", json={"code": f"print({i})"}).json() for i in range(8)]
        for sub in subs:
            run = client.poll(sub["poll"], interval=0.1, deadline=seconds(30))
            judged += run.done is not None and run.done.json()["verdict"] == "ok"
        dl.stop()
    assert judged == 16


def test_notifications_added_from_another_thread_reach_waiting_clients_at_once():
    """lab.notifications.add() from a plain thread reaches a waiting long poll and an SSE stream within 0.5 s."""
    lab = dl.start()
    client = lab.client()
    after = lab.notify("ishaan", "warm-up").id
    got: dict[str, float] = {}

    def long_poll() -> None:
        client.get("/api/users/ishaan/notifications/wait", params={"after": after, "timeout": 10})
        got["long poll"] = time.perf_counter()

    def stream() -> None:
        for _ in lab.client().iter_events("/api/users/ishaan/events", last_event_id=str(after)):
            got["SSE"] = time.perf_counter()
            break

    readers = [threading.Thread(target=long_poll), threading.Thread(target=stream)]
    before = len(lab.notifications._listeners)
    for reader in readers:
        reader.start()
    wait_for(lambda: len(lab.notifications._listeners) == before + 2)  # both are waiting
    t0 = time.perf_counter()
    lab.notifications.add("ishaan", "from the kernel thread")
    for reader in readers:
        reader.join(seconds(5))
    dl.stop()
    assert set(got) == {"long poll", "SSE"}
    assert max(got.values()) - t0 <= seconds(0.5), {k: v - t0 for k, v in got.items()}


def test_stop_closes_every_resilient_client_and_nothing_reconnects():
    """dl.stop() closes a ResilientClient made without a lab; no connection attempt follows."""
    attempts = []

    async def count(ws):
        attempts.append(time.perf_counter())
        await ws.wait_closed()

    with dl.WebSocketServer(count) as server:
        follower = dl.ResilientClient(server.url + "/stream/x").start()
        wait_for(lambda: follower.state is State.CONNECTED, why=lambda: follower.state)
        dl.stop()
        stopped = time.perf_counter()
        time.sleep(0.5)
    assert follower.state is State.CLOSED
    assert [t for t in attempts if t > stopped] == []
    assert not any(t.name == "duplexlab-clients" for t in threading.enumerate())


def test_a_resilient_client_counts_and_skips_what_it_cannot_read():
    """A non-JSON message is counted and skipped; the messages after it still arrive."""

    async def stream(ws):
        await ws.send(json.dumps({"type": "subscribed", "latest": -1}))
        await ws.send("this is not JSON")
        await ws.send(json.dumps([1, 2]))
        await ws.send(json.dumps({"type": "message", "seq": 0, "data": "after"}))
        await ws.wait_closed()

    with dl.WebSocketServer(stream) as server:
        follower = dl.ResilientClient(server.url + "/stream/x").start()
        assert follower.wait_for(1, timeout=seconds(5))
        assert follower.skipped == 2 and follower.state is State.CONNECTED
        assert "could not read" in follower.last_error and "skipped" in repr(follower)
        follower.close()


@pytest.mark.kernel
def test_interrupting_a_blocking_poll_stops_its_requests():
    """Kernel → Interrupt on a cell blocked in client.poll(): from 0.5 s after, the server sees none for 2 s."""
    lab = dl.start()
    tap = lab.tap()  # counts the kernel's requests
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute(
            "import duplexlab as dl\n"
            f"c = dl.Client({tap.url!r}, check=False)\n"
            "c.poll('/api/nowhere', interval=0.05, done=lambda r: False)"
        )
        wait_for(lambda: tap.counts().requests >= 5, timeout=30, interval=0.05, why=tap.counts)
        km.interrupt_kernel()
        time.sleep(seconds(0.5))  # room for the interrupt to land; then no request may come
        after_half_a_second = tap.counts().requests
        time.sleep(2.0)
        assert after_half_a_second >= 5
        assert tap.counts().requests == after_half_a_second
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        dl.stop()


def test_a_failing_slider_run_says_so_in_the_widget(monkeypatch):
    """A slider run that fails shows "run failed" and the reason in the widget, not "measuring…" forever."""
    lab = dl.start()
    experiment = dl.widgets.PollingExperiment(lab, autorun=False, debounce=0.05)

    async def broken() -> None:
        raise ConnectionError("the judge went away")

    monkeypatch.setattr(experiment, "_run_current", broken)
    experiment.interval.value = 0.5
    experiment.wait_idle(seconds(5))
    assert "run failed" in experiment.status.value and "the judge went away" in experiment.status.value
    assert experiment.progress.description == "failed"
    dl.stop()


@pytest.mark.process
def test_a_labs_clients_close_with_the_lab_even_while_still_referenced():
    """A client from lab.client() kept by a widget is closed by lab.close(): no "Unclosed" at exit."""
    code = (
        "import duplexlab as dl\n"
        "with dl.Lab() as lab:\n"
        "    screen = dl.widgets.OTPScreen(lab, phone='5551234567')\n"
        "    assert screen.send() == 200\n"
        "    assert len(lab.owned) >= 1\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
    assert "Unclosed" not in done.stderr, done.stderr


def test_close_all_uses_a_bounded_number_of_threads_and_closes_everything():
    """Closing 200 things uses at most MAX_CLOSERS threads at once, and every thing is closed."""
    from duplexlab.runtime.owner import MAX_CLOSERS, Owner

    peak, closed, lock = [0], [], threading.Lock()

    class Thing:
        def close(self) -> None:
            with lock:
                peak[0] = max(peak[0], sum(t.name.endswith("-close") for t in threading.enumerate()))
                closed.append(self)

    owner = Owner("bounded")
    things = [owner.own(Thing()) for _ in range(200)]
    owner.close_all()
    assert len(closed) == len(things) and len(owner) == 0
    assert peak[0] <= MAX_CLOSERS
