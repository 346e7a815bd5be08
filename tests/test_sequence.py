"""The live sequence diagram, without a browser: what it decodes, keeps, sends and renders."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import duplexlab as dl
from duplexlab.show.widgets import sequence

from .conftest import seconds, wait_for


def test_the_diagram_of_a_tap_lists_each_exchange_and_renders_it_as_svg(lab):
    """Two requests through a tap: four arrows, in order; the static SVG draws the same four."""
    tap = lab.tap(lab.url)
    seq = tap.show()
    client = lab.client(base_url=tap.url)
    client.get("/api/health")
    client.get("/api/users/asha/notifications")
    assert seq.arrows() == ["GET /api/health", "200 OK", "GET /api/users/asha/notifications", "200 OK"]
    svg = seq.svg()
    assert svg.count('<g class="arrow ') == 4
    assert re.findall(r'data-label="([^"]*)"', svg) == seq.arrows()
    assert "bytes on the wire:" in svg  # each arrow's <title> carries its byte counts
    assert seq.view.history == [] or len(seq.view.history) <= 4


def test_updates_are_batched_and_the_history_is_bounded_and_counted(lab):
    """300 requests in a burst reach the browser in a few messages (≤ rate/s); only `keep` events
    are kept, the rest counted as earlier; the synced history holds the kept events."""
    tap = lab.tap(lab.url)
    seq = sequence.Sequence(tap, keep=50, rate=10)
    client = lab.client(base_url=tap.url)
    t0 = time.perf_counter()
    for _ in range(300):
        client.get("/api/health")
    took = time.perf_counter() - t0
    events = seq.events()
    assert len(events) == 50 and seq.earlier == 600 - 50
    assert seq.updates <= took * 10 + 2, (seq.updates, took)
    assert [e["id"] for e in seq.view.history] == sorted(e["id"] for e in events)
    assert "550 earlier not kept" in seq.summary()
    assert "550 earlier events not kept" in seq.svg()


def test_chunks_beyond_the_inbox_are_counted_as_not_drawn(lab, monkeypatch):
    """When chunks arrive faster than the diagram decodes them, the overflow is counted and said."""
    monkeypatch.setattr(sequence, "MAX_INBOX", 4)
    tap = lab.tap(lab.url)
    seq = sequence.Sequence(tap, rate=0.5)  # one update every 2 s: the inbox fills first
    client = lab.client(base_url=tap.url)
    for _ in range(5):
        client.get("/api/health")
    wait_for(lambda: seq.skipped >= 4)  # 10 chunks: one drawn at once, 4 waiting, the rest counted
    assert "chunks not drawn (too fast)" in seq.summary()
    # the connection that lost chunks is marked, and what follows is not misread as garbage
    events = seq.events()
    kinds = [e["kind"] for e in events]
    assert kinds.count("lost") == 1, kinds
    assert "data" not in kinds and not any("not HTTP" in e["label"] for e in events), kinds
    assert "not drawn from here on" in seq.svg()


def test_a_held_long_poll_is_an_open_span_until_its_answer_comes(lab):
    """A long poll the server holds is drawn as an open span ("held … so far") while it waits, and
    as a closed span with its length once the notification answers it."""
    tap = lab.tap(lab.url)
    seq = tap.show()
    client = lab.client(base_url=tap.url)
    answer: list = []
    waiting = threading.Thread(
        target=lambda: answer.append(client.get("/api/users/zoe/notifications/wait?after=0&timeout=10"))
    )
    waiting.start()
    try:
        wait_for(lambda: any(e["kind"] == "request" and e["done"] for e in seq.events()))
        time.sleep(0.4)
        held = seq.svg()
        assert held.count('class="span held open"') == 1, held
        assert re.search(r"held 0\.\d\d s so far", held), held
    finally:
        lab.notify("zoe", "your friend request was accepted")
        waiting.join(seconds(10))
    assert answer and answer[0].status == 200
    wait_for(lambda: "200 OK" in seq.arrows())
    answered = seq.svg()
    assert 'class="span held open"' not in answered and answered.count('class="span held"') == 1, answered


def test_showing_a_tap_again_retires_the_old_diagram(lab):
    """One live diagram per tap: a re-run cell's new diagram takes over, the old one says why it stopped."""
    tap = lab.tap(lab.url)
    old = tap.show()
    new = tap.show()
    lab.client(base_url=tap.url).get("/api/health")
    assert new.arrows() == ["GET /api/health", "200 OK"]
    wait_for(lambda: old.view.note != "")
    assert old.arrows() == [] and "newer diagram" in old.view.note
    assert len(tap._watchers) == 1


def test_a_diagram_of_the_lab_follows_taps_started_after_it(lab):
    """dl.show.Sequence(lab) draws every tap of the lab, each connection in a lane of its own."""
    seq = dl.show.Sequence(lab)
    first, second = lab.tap(lab.url), lab.tap(lab.url)
    lab.client(base_url=first.url).get("/api/health")
    lab.client(base_url=second.url).get("/api/health")
    assert sorted({e["lane"] for e in seq.events()}) == ["1.1", "2.1"]
    assert "tap 2 · conn 1" in seq.svg()


def test_stopping_the_lab_stops_the_diagram_and_keeps_its_picture():
    """dl.stop() unhooks every diagram from its tap; what it drew stays in its state."""
    lab = dl.start()
    try:
        tap = lab.tap(lab.url)
        seq = tap.show()
        lab.client(base_url=tap.url).get("/api/health")
        seq.sync()
    finally:
        dl.stop()
    assert seq._closed and tap._watchers == []
    assert [e["label"] for e in seq.view.history][:2] == ["GET /api/health", "200 OK"]


def test_a_cut_and_a_silenced_path_are_drawn_as_breaks(lab):
    """Lesson 7's faults appear in the diagram: a cut, then bytes a silenced path swallowed."""
    tap = lab.tap(lab.ws_url)
    seq = tap.show()
    ws = lab.connect("/echo", base_url=tap.url)
    ws.send("one")
    ws.recv(timeout=5)
    tap.silence()
    ws.send("lost")
    wait_for(lambda: any(e["kind"] == "swallowed" for e in seq.events()))
    kinds = [e["kind"] for e in seq.events()]
    assert "silence" in kinds and kinds.index("silence") < kinds.index("swallowed")
    assert tap.cut() == 1
    wait_for(lambda: "cut" in [e["kind"] for e in seq.events()])
    again = lab.connect("/echo", base_url=tap.url)
    again.send("two")
    again.recv(timeout=5)
    assert tap.drop_server() == 1
    wait_for(lambda: "drop" in [e["kind"] for e in seq.events()])
    assert "server side dropped" in seq.svg()


def test_a_headless_run_keeps_the_diagram_of_the_cells_traffic_as_svg():
    """In nbclient (no browser) the cell that shows the diagram ends with a static SVG of its traffic,
    brought up to date after each later cell that added to it."""
    nb = new_notebook(
        cells=[
            new_code_cell(
                "import duplexlab as dl\nlab = dl.start()\ntap = lab.tap(lab.url)\n"
                "seq = tap.show()\ndisplay(seq)\n"
                "client = dl.Client(tap.url)\nclient.get('/api/health')\nclient.get('/api/users/asha/notifications')"
            ),
            new_code_cell("client.get('/api/health')"),
        ]
    )
    NotebookClient(nb, timeout=int(seconds(120)), kernel_name="python3").execute()
    shown = [o for o in nb.cells[0].outputs if "image/svg+xml" in o.get("data", {})]
    assert len(shown) == 1
    svg = shown[0]["data"]["image/svg+xml"]
    assert re.findall(r'data-label="([^"]*)"', svg) == [
        "GET /api/health",
        "200 OK",
        "GET /api/users/asha/notifications",
        "200 OK",
        "GET /api/health",  # the next cell's
        "200 OK",
    ]
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert "3 request(s), 3 response(s)" in shown[0]["data"]["text/plain"]


def test_a_diagram_shown_after_the_traffic_starts_with_what_the_tap_recorded(lab):
    """tap.show() draws what the tap carried before it was shown; history=False only what comes next."""
    tap = lab.tap(lab.url)
    client = lab.client(base_url=tap.url)
    client.get("/api/health")
    assert tap.show().arrows() == ["GET /api/health", "200 OK"]
    fresh = tap.show(history=False)
    client.get("/api/users/asha/notifications")
    assert fresh.arrows() == ["GET /api/users/asha/notifications", "200 OK"]


@pytest.fixture
def kernel():
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client, code: str) -> tuple[list[dict], str]:
    """Run ``code``; return the iopub messages seen until it ended, and its printed text."""
    msg_id = client.execute(code)
    messages, text = [], ""
    while True:
        msg = client.get_iopub_msg(timeout=seconds(60))
        messages.append(msg)  # comm messages sent from the lab's thread may carry another parent
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages, text


def test_in_a_kernel_a_thousand_events_a_second_go_out_in_at_most_thirty_messages_a_second(kernel):
    """Through a real kernel's comm: a WebSocket echo at ~1,000 frames/s for 2 s is sent to the
    browser in ≤ 30 custom messages a second, and every frame arrives in them."""
    execute(
        kernel,
        "import time, duplexlab as dl\nlab = dl.start()\ntap = lab.tap(lab.ws_url)\n"
        "seq = tap.show(keep=5000)\ndisplay(seq)\nws = lab.connect('/echo', base_url=tap.url)",
    )
    messages, text = execute(
        kernel,
        "t0 = time.perf_counter(); n = 0\n"
        "while time.perf_counter() - t0 < 2:\n"
        "    ws.send('x'); ws.recv(timeout=5); n += 1; time.sleep(0.001)\n"
        "took = time.perf_counter() - t0\nseq.sync(); time.sleep(0.2)\nprint(n, took)",
    )
    sent, took = text.split()
    batches = [
        m["content"]["data"]["content"]
        for m in messages
        if m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "custom"
    ]
    frames = {e["id"] for b in batches for e in b["events"] if e["kind"] == "frame"}
    assert len(frames) >= 2 * int(sent) - 1, (len(frames), sent)
    assert len(batches) <= 30 * (float(took) + 0.5), (len(batches), took)
    assert json.dumps(batches[0]["events"][0])  # plain JSON


def test_a_connection_that_ended_gives_its_column_to_the_next(lab):
    """Three connections one after another (each closed before the next opens) share one column, named
    "conn 1–3", each start labelled; a fourth opened while the third is open gets a column of its own."""
    tap = lab.tap(lab.ws_url)
    seq = tap.show()
    for n in range(3):
        ws = lab.connect("/echo", base_url=tap.url)
        ws.send(f"hello {n}")
        ws.recv(timeout=5)
        ws.close()
        wait_for(lambda n=n: sum(e["kind"] == "end" for e in seq.events()) == 2 * (n + 1))
    svg = seq.svg()
    names = re.findall(r'<text class="lifeline-name"[^>]*>([^<]*)</text>', svg)
    assert names == ["conn 1–3", "tap", "server"], names
    assert re.findall(r'class="lane-start"[^>]*>([^<]*)<', svg) == ["conn 1", "conn 2", "conn 3"]
    one_column = sequence.LEFT + sequence.LANE + sequence.TAP_GAP + sequence.SERVER_GAP + sequence.RIGHT
    assert f'width="{one_column:g}"' in svg
    third = lab.connect("/echo", base_url=tap.url)
    fourth = lab.connect("/echo", base_url=tap.url)
    third.send("a")
    fourth.send("b")
    third.recv(timeout=5)
    fourth.recv(timeout=5)
    wait_for(lambda: len({e["lane"] for e in seq.events()}) == 5)
    names = re.findall(r'<text class="lifeline-name"[^>]*>([^<]*)</text>', seq.svg())
    assert names == ["conn 1–4", "conn 5", "tap", "server"], names
    assert sequence.runs([1, 2, 4, 5, 6, 9]) == "1, 2, 4–6, 9"
    third.close()
    fourth.close()
