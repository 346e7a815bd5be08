"""The live sequence diagram, without a browser: what it decodes, keeps, sends and renders."""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from websockets.frames import Close, Frame, Opcode

import duplexlab as dl
from duplexlab.show import projector, sequence_layout
from duplexlab.show.sequence_layout import STYLE, Style
from duplexlab.show.widgets import sequence
from duplexlab.wire.capture import Chunk, Direction
from duplexlab.wire.flow import FlowDecoder, FlowEvent, Note

from .helpers import seconds, wait_for

UP, DOWN = Direction.UP, Direction.DOWN


def known_capture() -> list[FlowEvent]:
    """Lesson 07's story, decoded as the tap would: a WebSocket gets a message and a ping/pong, is
    cut, comes back asking ?last=3, pings again, gets the next message and closes."""

    def upgrade(last: int) -> bytes:
        return (
            f"GET /stream/scores?last={last} HTTP/1.1\r\nHost: tap\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        ).encode()

    switched = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

    def frame(op: Opcode, data: bytes, up: bool) -> bytes:
        return Frame(op, data).serialize(mask=up)

    script: list = [
        (0.0, 1, UP, upgrade(-1)),
        (0.002, 1, DOWN, switched),
        (0.1, 1, DOWN, frame(Opcode.TEXT, b'{"seq": 3}', False)),
        (1.0, 1, UP, frame(Opcode.PING, b"abcd", True)),
        (1.001, 1, DOWN, frame(Opcode.PONG, b"abcd", False)),
        Note(1.5, 1, "cut"),
        (1.75, 2, UP, upgrade(3)),
        (1.752, 2, DOWN, switched),
        (2.0, 2, UP, frame(Opcode.PING, b"efgh", True)),
        (2.001, 2, DOWN, frame(Opcode.PONG, b"efgh", False)),
        (2.25, 2, DOWN, frame(Opcode.TEXT, b'{"seq": 4}', False)),
        (2.5, 2, UP, frame(Opcode.CLOSE, Close(1000, "").serialize(), True)),
        (2.502, 2, DOWN, frame(Opcode.CLOSE, Close(1000, "").serialize(), False)),
        (2.503, 2, DOWN, b""),
        (2.504, 2, UP, b""),
    ]
    decoder = FlowDecoder(t0=0.0)
    events: dict[int, FlowEvent] = {}
    for item in script:
        for event in decoder.feed(item if isinstance(item, Note) else Chunk(*item)):
            events[event["id"]] = event
    return sorted(events.values(), key=lambda e: (e["t"], e["id"]))


KNOWN_DESC = (
    "2 connections; 12 arrows: 2 requests, 2 responses, 4 frames, 4 ping/pong frames; 1 cut, 2 sides closed; "
    "0.000 s to 2.504 s"
)
KNOWN_LINES = [
    "0.000 s · conn 1 → server · GET /stream/scores?last=-1 · 91 bytes on the wire: 91 header + 0 body",
    "0.002 s · server → conn 1 · 101 Switching Protocols · 77 bytes on the wire: 77 header + 0 body",
    "0.100 s · server → conn 1 · TEXT 10 B · 12 bytes on the wire: 2 frame header + 10 payload",
    "1.000 s · conn 1 → server · PING 4 B masked · 10 bytes on the wire: 6 frame header + 4 payload",
    "1.001 s · server → conn 1 · PONG 4 B · 6 bytes on the wire: 2 frame header + 4 payload",
    "1.500 s · conn 1: ✂ cut: both ends see a reset",
    "1.750 s · conn 2 → server · GET /stream/scores?last=3 · 90 bytes on the wire: 90 header + 0 body",
    "1.752 s · server → conn 2 · 101 Switching Protocols · 77 bytes on the wire: 77 header + 0 body",
    "2.000 s · conn 2 → server · PING 4 B masked · 10 bytes on the wire: 6 frame header + 4 payload",
    "2.001 s · server → conn 2 · PONG 4 B · 6 bytes on the wire: 2 frame header + 4 payload",
    "2.250 s · server → conn 2 · TEXT 10 B · 12 bytes on the wire: 2 frame header + 10 payload",
    "2.500 s · conn 2 → server · CLOSE 1000 masked · 8 bytes on the wire: 6 frame header + 2 payload",
    "2.502 s · server → conn 2 · CLOSE 1000 · 4 bytes on the wire: 2 frame header + 2 payload",
    "2.503 s · conn 2: server side closed",
    "2.504 s · conn 2: client side closed",
]


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


@pytest.mark.kernel
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
    # what an exported notebook shows is an image with a name and this run's counts
    assert re.search(r'<svg [^>]*role="img" aria-labelledby="dl-seq-\d+-title" aria-describedby="dl-seq-\d+-desc"', svg)
    assert re.search(r"<title id=\"dl-seq-\d+-title\">Sequence diagram of http://", svg)
    desc = re.search(r'<desc id="dl-seq-\d+-desc">([^<]*)</desc>', svg)
    assert desc and html.unescape(desc.group(1)).startswith("1 connection; 6 arrows: 3 requests, 3 responses; "), desc


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


@pytest.mark.kernel
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
    geo = sequence.geometry(seq.font)
    one_column = geo.left + geo.lane + geo.tap_gap + geo.server_gap + geo.right
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


def test_the_svg_names_itself_and_describes_this_runs_counts():
    """The static SVG is an image whose <title> names what it follows and whose <desc> gives the
    counts of a known capture: connections, arrows by kind, breaks and ends, the time span."""
    events = known_capture()
    assert sequence.describe(events) == KNOWN_DESC
    svg = sequence.static_svg(events, earlier=3, title="ws://127.0.0.1:1 → ws://127.0.0.1:2")
    top = re.match(
        r'<svg [^>]*role="img" aria-labelledby="(dl-seq-\d+-title)" aria-describedby="(dl-seq-\d+-desc)"', svg
    )
    assert top, svg[:300]
    title = re.search(rf'<title id="{top.group(1)}">([^<]*)</title>', svg)
    desc = re.search(rf'<desc id="{top.group(2)}">([^<]*)</desc>', svg)
    assert title and title.group(1) == "Sequence diagram of ws://127.0.0.1:1 → ws://127.0.0.1:2"
    assert desc and html.unescape(desc.group(1)) == KNOWN_DESC + "; 3 earlier events not kept"
    assert svg.index("<title") < svg.index("<rect"), "the title comes first, as a screen reader expects"
    # a second diagram on the same page (an exported notebook) gets ids of its own
    again = re.match(r'<svg [^>]*aria-labelledby="(dl-seq-\d+-title)"', sequence.static_svg(events))
    assert again and again.group(1) != top.group(1)
    assert sequence.describe([]) == "nothing has crossed the tap yet"


def test_the_text_view_has_one_line_per_row_the_same_as_its_hover_details():
    """text_lines gives each row of a known capture one line (when, who to whom, the whole label, its
    sizes); in the static SVG each row's tooltip is that same line."""
    events = known_capture()
    lines = sequence.text_lines(events)
    assert list(lines.values()) == KNOWN_LINES
    svg = sequence.static_svg(events)
    tooltips = re.findall(r'<g class="(?:arrow|mark) [^"]*" data-id="(\d+)"[^>]*><title>([^<]*)</title>', svg)
    assert [(int(i), html.unescape(t)) for i, t in tooltips] == list(lines.items())


def test_a_held_or_unanswered_request_says_so_in_its_line():
    """The text view says what the spans draw: how long a request was held, or that it had no answer."""
    request: FlowEvent = {
        "id": 1,
        "t": 0.0,
        "lane": "1",
        "dir": "up",
        "kind": "request",
        "label": "GET /wait",
        "bytes": 40,
        "head": 40,
        "body": 0,
        "done": True,
        "detail": "",
    }
    answer: FlowEvent = {**request, "id": 2, "t": 1.25, "dir": "down", "kind": "response", "label": "200 OK", "req": 1}
    lines = sequence.text_lines([request, answer])
    assert lines[2].endswith("· held 1.25 s"), lines
    assert sequence.text_lines([request])[1].endswith("· no answer yet")


def test_pings_folded_are_left_out_and_counted():
    """pings=False: no PING or PONG row in the static SVG, a visible "ping/pong folded: 4", and the
    description says they are folded; everything else is drawn."""
    events = known_capture()
    svg = sequence.static_svg(events, pings=False)
    labels = re.findall(r'<g class="arrow [^"]*" data-id="\d+" data-label="([^"]*)"', svg)
    assert not [x for x in labels if x.startswith(("PING", "PONG"))] and len(labels) == 12 - 4, labels
    assert ">ping/pong folded: 4</text>" in svg
    assert "4 ping/pong frames (folded)" in svg and "kind-cut" in svg


def luminance(color: str) -> float:
    rgb = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str = "#ffffff") -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_and_lines_stand_out_from_the_paper_and_kinds_differ_by_more_than_colour():
    """Every text and line colour in the static SVG (and the style sequence.js gets) is 4.5:1 or more on its
    white paper; a request, a response, an event and a cut differ by line style, arrowhead or label."""
    stream: list[FlowEvent] = [
        {
            "id": 1,
            "t": 0.0,
            "lane": "1",
            "dir": "up",
            "kind": "request",
            "label": "GET /events",
            "bytes": 40,
            "head": 40,
            "body": 0,
            "done": True,
            "detail": "",
        },
        {
            "id": 2,
            "t": 0.01,
            "lane": "1",
            "dir": "down",
            "kind": "response",
            "label": "200 OK",
            "bytes": 90,
            "head": 90,
            "body": 0,
            "done": False,
            "detail": "",
            "req": 1,
            "stream": True,
        },
        {
            "id": 3,
            "t": 0.2,
            "lane": "1",
            "dir": "down",
            "kind": "sse",
            "label": "event: score",
            "bytes": 30,
            "head": 0,
            "body": 30,
            "done": True,
            "detail": "",
            "in": 2,
        },
    ]
    svg = sequence.static_svg(
        known_capture() + [{**e, "id": e["id"] + 100, "lane": "3"} for e in stream], earlier=2, title="t"
    )
    colours = set(re.findall(r'<(?:text|line|path)\b[^>]*?(?:fill|stroke)="(#[0-9A-Fa-f]{6})"', svg))
    colours |= {c for c in re.findall(r'<(?:text|line|path)\b[^>]*?(?:fill|stroke)="(#[0-9A-Fa-f]{3})"', svg)}
    assert len(colours) >= 6, colours
    weak = {c: round(contrast(c if len(c) == 7 else "#" + "".join(x * 2 for x in c[1:])), 2) for c in colours}
    assert all(ratio >= 4.5 for ratio in weak.values()), weak
    # the style sequence.js draws with too (the span fills are behind no text)
    style = [*STYLE.colors.values(), STYLE.muted, STYLE.lifeline, STYLE.held_text, STYLE.ink, STYLE.focus]
    assert {c: round(contrast(c), 2) for c in style if contrast(c) < 4.5} == {}
    # not by colour alone: the kinds' lines differ in style, and every row has a label
    sse_line = re.search(r'kind-sse dir-down"[^>]*>.*?<line [^>]*stroke-dasharray="([^"]*)"', svg, re.S)
    request_line = re.search(r'kind-request dir-up"[^>]*>.*?<line [^>]*stroke-dasharray="([^"]*)"', svg, re.S)
    assert sse_line and request_line and sse_line.group(1) != request_line.group(1)
    assert re.search(r'kind-cut dir-none"[^>]*>.*?<path d="M [^"]* l 4 12 l 4 -12', svg, re.S), "a cut is a zigzag"
    assert svg.count('class="label"') == svg.count("<g class=")


JS_LAYOUT = """
    import { readFileSync } from "node:fs";
    const m = await import(process.argv[1]);
    const { events, earlier, font, style } = JSON.parse(readFileSync(process.argv[2], "utf8"));
    const geo = m.geometry(font, style);
    const g = m.layout(events, earlier, geo);
    delete geo.style;
    console.log(JSON.stringify({
      geometry: geo, rows: Object.fromEntries(g.rowY), lanes: Object.fromEntries(g.xLane), tap: g.xTap,
      server: g.xServer, height: g.height, width: g.width, gaps: g.gaps, slots: g.slots,
      ends: Object.fromEntries(g.ends), shared: [...g.shared], desc: m.describe(events),
      folded: m.describe(events, { earlier: 3, skipped: 1, pings: false }),
      lines: [...m.textLines(events).values()] }));
"""


def js_layout(tmp_path: Path, events: list[FlowEvent], *, earlier: int = 0, font: int = 12, style=STYLE) -> dict:
    """sequence.js's geometry, layout, describe and textLines of ``events``, run under Node.js."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: these tests run sequence.js under Node.js (bash .ci/run installs it)")
    module = tmp_path / "sequence.mjs"
    module.write_text((Path(sequence.__file__).parent.parent / "js" / "sequence.js").read_text())
    data = tmp_path / "input.json"
    data.write_text(json.dumps({"events": events, "earlier": earlier, "font": font, "style": style.to_json()}))
    found = subprocess.run(
        [node, "--input-type=module", "-e", JS_LAYOUT, module.as_uri(), str(data)],
        capture_output=True,
        text=True,
        timeout=seconds(30),
    )
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)


def py_layout(events: list[FlowEvent], *, earlier: int = 0, font: int = 12, style=STYLE) -> dict:
    """Python's answers to the questions js_layout asks sequence.js, in the same shape."""
    geo = sequence_layout.geometry(font, style)
    g = sequence.layout(events, earlier, geo)
    return {
        "geometry": {
            "font": font,
            "k": geo.k,
            "row": geo.row,
            "top": geo.top,
            "left": geo.left,
            "timeX": geo.time_x,
            "lane": geo.lane,
            "tapGap": geo.tap_gap,
            "serverGap": geo.server_gap,
            "right": geo.right,
        },
        "rows": {str(i): y for i, y in g["row_y"].items()},
        "lanes": g["x_lane"],
        "tap": g["x_tap"],
        "server": g["x_server"],
        "height": g["height"],
        "width": g["width"],
        "gaps": [list(x) for x in g["gaps"]],
        "slots": [list(x) for x in g["slots"]],
        "ends": g["ends"],
        "shared": sorted(g["shared"]),
        "desc": sequence.describe(events),
        "folded": sequence.describe(events, earlier=3, skipped=1, pings=False),
        "lines": list(sequence.text_lines(events).values()),
    }


@pytest.mark.process  # Node.js runs sequence.js
def test_sequence_js_describes_lists_and_lays_out_as_python_does(tmp_path):
    """The browser draws what the static SVG draws: sequence.js's describe, textLines, geometry and
    layout give the same answers as Python's on the known capture (at 16 px too)."""
    events = known_capture()
    js = js_layout(tmp_path, events, earlier=2, font=16)
    js["shared"] = sorted(js["shared"])
    assert js == py_layout(events, earlier=2, font=16)
    assert js["desc"] == KNOWN_DESC and js["lines"] == KNOWN_LINES


def record_a_flow(lab) -> list[FlowEvent]:
    """A tap on each of the lab's servers, recorded as a diagram of the lab sees them: an HTTP request,
    an event stream of two events, a WebSocket with three round trips that is cut, then a second one
    (in the cut one's column) that closes; with waits between, so rows are spaced by time."""
    taps = [lab.tap(lab.url), lab.tap(lab.ws_url)]
    seen: list[list] = [[], []]
    for n, tap in enumerate(taps):
        tap.watch(seen[n].append)
    client = lab.client(base_url=taps[0].url)
    client.get("/api/health")
    lab.notify("ravi", "hello")
    lab.notify("ravi", "again")
    assert len(client.events("/api/users/ravi/events", count=2, timeout=seconds(5))) == 2
    time.sleep(0.2)  # a wait the diagram shows (not waiting for another thread)
    ws = lab.connect("/echo", base_url=taps[1].url)
    for n in range(3):
        ws.send(f"hello {n}")
        ws.recv(timeout=seconds(5))
    time.sleep(0.1)
    assert taps[1].cut() == 1
    wait_for(lambda: any(isinstance(x, Note) and x.kind == "cut" for x in seen[1]))
    again = lab.connect("/echo", base_url=taps[1].url)
    again.send("back")
    again.recv(timeout=seconds(5))
    again.close()
    wait_for(lambda: sum(isinstance(x, Chunk) and not x.data for x in seen[1]) >= 4)  # both ends of both
    t0 = min(x.t for items in seen for x in items)
    ids = itertools.count(1)
    events: dict[int, FlowEvent] = {}
    for n, items in enumerate(seen, 1):
        decoder = FlowDecoder(t0=t0, lane_prefix=f"{n}.", ids=ids)
        for item in list(items):
            events.update((e["id"], e) for e in decoder.feed(item))
    return sorted(events.values(), key=lambda e: (e["t"], e["id"]))


@pytest.mark.process  # Node.js runs sequence.js
def test_sequence_js_lays_out_a_recorded_flow_as_python_does(lab, tmp_path):
    """On a flow recorded through two taps (HTTP, an event stream, WebSocket frames, a cut, a column
    reused), sequence.js puts every row at the y and every connection at the x that Python does, and
    describes and lists it in the same words."""
    events = record_a_flow(lab)
    kinds = {e["kind"] for e in events}
    assert {"request", "response", "sse", "frame", "cut", "end"} <= kinds, kinds
    assert len({e["lane"] for e in events}) == 3
    for earlier, font in ((0, 12), (4, 16)):
        js = js_layout(tmp_path, events, earlier=earlier, font=font)
        py = py_layout(events, earlier=earlier, font=font)
        assert js["rows"] == py["rows"] and len(js["rows"]) == len(events)
        assert js["lanes"] == py["lanes"] and js["slots"] == py["slots"]
        assert sorted(js["shared"]) == py["shared"] and {"2.1", "2.2"} <= set(py["shared"]), "a column reused"
        for where in ("tap", "server", "width", "height", "ends"):
            assert js[where] == py[where], where
        assert js["gaps"] == py["gaps"] and js["gaps"], "the waits show"
        assert js["desc"] == py["desc"] and js["lines"] == py["lines"]


@pytest.mark.process  # Node.js runs sequence.js
def test_sequence_js_draws_with_the_style_the_kernel_sends(lab, tmp_path):
    """The widget sends the one Style to the browser, and sequence.js has no numbers of its own: given
    another style, it lays a flow out as Python does with that style."""
    seq = lab.tap(lab.url).show()
    assert seq.view.drawing == STYLE.to_json()
    events = known_capture()
    numbers = [f.name for f in dataclasses.fields(Style) if f.type in ("int", "float") and f.name != "max_label"]
    other = dataclasses.replace(STYLE, **{name: getattr(STYLE, name) * 1.25 for name in numbers})
    js = js_layout(tmp_path, events, font=13, style=other)
    js["shared"] = sorted(js["shared"])
    assert js == py_layout(events, font=13, style=other) != py_layout(events, font=13)


def test_projector_mode_draws_the_diagram_with_16_px_text(lab):
    """A diagram made with dl.projector() on has 16 px text in its widget and its static SVG, and
    its geometry grows with it (a label still fits between the tap and the server)."""
    tap = lab.tap(lab.url)
    normal = tap.show()
    projector.projector(True)
    try:
        big = tap.show()
    finally:
        projector.projector(False)
    lab.client(base_url=tap.url).get("/api/health")
    assert (normal.font, normal.view.font) == (13, 13)
    assert (big.font, big.view.font) == (16, 16)
    svg = big.svg()
    assert 'font-size="16"' in svg and re.search(r'font-size="1[0-5]"', svg) is None, "no text under 16 px"
    assert sequence.geometry(16).server_gap > sequence.geometry(13).server_gap > STYLE.server_gap


def test_pin_and_pings_reach_the_browser_side(lab):
    """tap.show(pin="break", pings=False) hands both to the widget; an unknown pin is refused in words."""
    tap = lab.tap(lab.ws_url)
    seq = tap.show(pin="break", pings=False, height=280)
    assert (seq.view.pin, seq.view.pings, seq.view.height) == ("break", False, 280)
    assert seq.view.title == f"{tap.url} → {tap.target}"
    assert (tap.show().view.pin, tap.show().view.pings) == ("", True)
    with pytest.raises(ValueError, match='pin="break"'):
        tap.show(pin="cut")


def test_the_live_diagram_of_a_source_is_kept_by_the_source_itself_not_its_id(lab):
    """Each tap's live diagram is found by the tap object (weakly), never by id(), which a new object may reuse."""
    import gc

    tap, other = lab.tap(lab.url), lab.tap(lab.url)
    first = tap.show()
    assert sequence._live[tap]() is first and id(tap) not in sequence._live
    kept = other.show()
    second = tap.show()
    assert first is not None
    assert first._closed and not kept._closed and sequence._live[tap]() is second
    del second
    wait_for(lambda: gc.collect() >= 0 and sequence._live[tap]() is None)  # a diagram gone is kept by nothing


def test_a_diagram_that_cannot_show_its_last_picture_says_so_in_the_log(lab, caplog, monkeypatch):
    """Sequence.close() on a broken widget logs why its last picture is missing (no silent except)."""
    tap = lab.tap(lab.url)
    seq = tap.show()

    def broken() -> None:
        raise RuntimeError("comm closed")

    monkeypatch.setattr(seq, "_refresh", broken)
    with caplog.at_level("DEBUG", logger=sequence.__name__):
        seq.close("test")
        wait_for(lambda: any("last picture" in r.getMessage() for r in caplog.records))
    assert any(r.exc_info and "comm closed" in str(r.exc_info[1]) for r in caplog.records)


def test_a_long_run_of_pings_never_pushes_out_the_exchanges_they_sit_between():
    """Over the limit, pings and pongs go first, down to a fifth of the kept events: 40 exchanges then 600
    pings/pongs, keep 500: every exchange stays (lesson 07 on a slow machine showed only folded pings, its
    cut let go); then 500 more requests: the pings shrink to their fifth, then the oldest events go."""
    kept = sequence._Kept(500)
    exchange: list[Any] = [{"id": i, "kind": "request"} for i in range(40)]
    pings: list[Any] = [{"id": 40 + i, "kind": "frame", "opcode": "PING" if i % 2 == 0 else "PONG"} for i in range(600)]
    let_go = kept.add(exchange) + kept.add(pings)
    ids = list(kept.events)
    assert ids[:40] == list(range(40)), "the exchanges stay"
    assert ids[40:] == list(range(180, 640)) and let_go == 140, "the oldest pings and pongs went"
    more: list[Any] = [{"id": 640 + i, "kind": "request"} for i in range(500)]
    kept.add(more)
    assert len(kept.events) == 500 and min(kept.events) == 640, "then the oldest events go, as before"
