"""Cells run again as a class does: after Run All, every code cell once more in order, then the cells a
teacher is likely to run again, out of order. No error, no traceback, and no result that contradicts the
prose next to it: every ✗ line blames chance or a busy machine, never the state earlier cells left."""

from __future__ import annotations

import copy
import gc
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import nbformat
import pytest
from nbclient import NotebookClient

import duplexlab as dl
from duplexlab.apps import events

from .helpers import seconds
from .test_notebooks import NOT_A_NUMBER, NOTEBOOKS, _text

if TYPE_CHECKING:
    from duplexlab.cluster.cluster import Cluster

# What a ✗ line may blame: chance (where the few events or ready moments fell, a short run) or the
# machine (busy, slow to ask again). Never the state that earlier cells left behind.
CHANCE_OR_MACHINE = re.compile(r"busy|slow to ask|where they fell|coarsely|too short to average")
# What a class must never see in a cell's output, even on standard error.
NEVER = ("Traceback (most recent call last)", "Task was destroyed but it is pending")


@dataclass(frozen=True)
class Again:
    """A cell to run again out of order: a piece of its source, and what its output must say then."""

    cell: str
    says: str = ""  # a regular expression the output must match ("" = only the general rules)
    why: str = ""  # the prose next to the cell, or what the case is


# Per lesson, in the order they run after Run All and one more pass over every cell.
AGAIN = {
    "02-polling.ipynb": [
        Again('run = client.poll(sub["poll"], interval=1.0)', r"^○ Make your guess first", "Predict"),
        Again("experiment.sweep(", r"^[✓✗] every 0\.1 s", "the sweep checks interval/2 + RTT/2"),
        Again('screen.verify("000000")', r"was used already: press Resend", "the code was used a moment ago"),
        Again('"/api/otp/send"', r"\(429,|run this cell again now", '"Ask again now": a 429 and its wait'),
        Again('client.get(submitted.json()["poll"])', r"'status': 'done'", "run it again until it says done"),
        Again("watched = judge.poll(", r"\d+ polls: \d+ answered 'not yet'", "the same pair of arrows"),
    ],
    "03-long-polling-and-sse.ipynb": [
        Again('notes = long_poll(client, "ravi"', r"\b3 requests for 3 messages", "the loop waits for the 3 new ones"),
    ],
    "05-chat-and-notifications.ipynb": [
        Again("network = lab.tap(lab.ws_url)", r"^○ Make your guess first", "Predict"),
        Again('"Me! Polling, then a WebSocket."', r"\('ravi', 'Me! Polling, then a WebSocket\.'\)", "Ravi answers"),
        Again('"Hi both! Who solved question 3?"', r"Hi both! Who solved question 3\?", "Priya asks"),
        Again('"Me! Polling, then a WebSocket."', r"\('ravi', 'Me! Polling, then a WebSocket\.'\)", "twice"),
        Again('f"Kabir liked photo {i}"', r"push delay on this machine \(ms\): n=20", "twenty more"),
        Again(
            'lab.notify("kabir", f"message {i}")',
            r"1 HTTP request \(the handshake\), 6 frames pushed down[\s\S]*sent up meanwhile: 0",
            "only news comes down",
        ),
        Again('lab.notify("kabir", f"message {i}")', r"6 frames pushed down", "the same, once more"),
        Again("?after={panel['last_id']}", r"'Kabir accepted your friend request'", "the fix: subscribe from the id"),
        Again('asha.send(json.dumps({"type": "message", "text": "Hello, browser!"}))', "", "Asha says hello"),
    ],
    "06-side-by-side.ipynb": [
        Again("result = side.run()", r"^run \d+: \d+ events \(seed \d+\)", "Predict: the run the widget shows"),
        Again("bursty = side.run(", r"polling asked", "bursts, measured without the widget"),
        Again("other = side.run(", r"SSE sent 0 request", "another seed, measured without the widget"),
        Again("result = side.run()", r"^run \d+: \d+ events \(seed \d+\)", "Predict once more"),
        Again("runs = room.measure(100)", r"100 clients per transport", "a classroom of 100"),
    ],
    "07-keeping-websockets-alive.ipynb": [
        Again("ws_tap.silence()", r"^○ Make your guess first", "Predict, after the last cell closed the taps"),
        Again("for s, m, closed in zip(settings, measured, closes):", r"[✓✗] ", "the wait is the sum"),
        Again('alive.send("still there?")', r"still there\? after 1 s of silence", "pings stop the idle cut"),
        Again("ws_tap.silence()", r"^○ Make your guess first", "Predict again"),
        Again("for s, m, closed in zip(settings, measured, closes):", r"[✓✗] ", "the wait is the sum"),
        Again("for client in (resuming, naive):", r"resumes: 200 of 200", "the resuming client has all 200"),
        Again("cut_tap2.cut()", r"<ResilientClient connected", "what Cut now does"),
        Again("dl.check.no_sockets_left(lab)", r"✓ no_sockets_left", "close what this lesson opened"),
    ],
    "10-socket-io.ipynb": [
        Again("asha = lab.socketio_client(base_url=tap.url", r"the ack: \{'ok': True, 'to': 1\}", "Ravi gets it"),
        Again("print(dl.engine_io.table(tap.capture()))", r"✓ then it upgraded", "the table, read again"),
        Again("server = lab.socketio(upgrades=False)", r"✓ 10 messages took 20 HTTP requests", "Predict: 20"),
        Again("wires = dl.experiments.compare_wires(", r"Socket\.IO over long polling", "the bytes again"),
        Again("cut_tap.silence()", r"no acknowledgement of 'chat' within 1 s", "an ack tells you"),
        Again("asha = lab.socketio_client(base_url=tap.url", r"the ack: \{'ok': True, 'to': 1\}", "and back"),
    ],
    "09-more-than-one-server.ipynb": [
        Again('on="A")\n    print([heard', r"^Meera's devices are closed: run the cell above", "Predict after Run All"),
        Again(
            'devices = [lab.connect("/notifications/meera"',
            r"no backplane\n\['[ABC]', '[ABC]', '[ABC]'\]",
            "the devices",
        ),
        Again(
            'on="A")\n    print([heard',
            r"^\[(?=[^\]]*'Kabir accepted your friend request')(?![^\]]*'Kabir[^\]]*'Kabir)[^\]]*None[^\]]*None",
            "then Predict: only the device on A hears",
        ),
        Again(
            "lab = dl.start(servers=3, backplane=None)\ncluster = lab.cluster\nprint(cluster.describe())",
            "no backplane",
            "the first cluster cell, after the backplane",
        ),
        Again(
            'f"scores-{time.time_ns()}"', r"joined by [\s\S]*200 of 200 messages, in order: True, 0 repeated", "Resume"
        ),
        Again('f"scores-{time.time_ns()}"', r"200 of 200 messages, in order: True, 0 repeated", "Resume again"),
        Again("alone = dl.experiments.fan_out(", r"no backplane:[\s\S]*0 of 30 pages heard all 30", "1/n of the news"),
        Again("for sticky in (True, False):", r"no backplane[\s\S]*round robin:(\n.*)*on [BC]: \[\]", "B and C wait"),
        Again(
            "cluster.sticky = False  # round robin",
            r"\Aon 3 servers \(A, B, C\), joined by .*(\n  held [\d.]+ s on [ABC]: \['#\d+ news for Ravi'\]){3}\s*\Z",
            "answered wherever they land",
        ),
        Again(
            "same = dl.experiments.delivery_delays(",
            r"adds ([\d.]+ ms|nothing measurable \(noise ±[\d.]+ ms\)) to a page on A",
            "the hop",
        ),
        Again('on="A")\n    print([heard', r"^Meera's devices are closed", "Predict, its servers stopped"),
    ],
}

# A line saying which cluster a cell runs on: "on 3 servers (A, B, C), no backplane" or the cluster's own line.
WHICH_CLUSTER = re.compile(
    r"^(on \d+ servers \([A-Z, ]+\), (no backplane|joined by [^:\n]+):?|\d+ servers \(.*\) behind .*)$", re.M
)


def _cell(nb, piece: str) -> int:
    hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and piece in c.source]
    assert len(hits) == 1, f"{len(hits)} code cells hold {piece!r}"
    return hits[0]


def _claims(text: str) -> list[str]:
    """The ✓/✗ lines of a cell's output, each with the lines it wraps onto (they start with spaces)."""
    claims: list[str] = []
    for line in text.splitlines():
        if line[:1] in ("✓", "✗"):
            claims.append(line)
        elif claims and line.startswith("  "):
            claims[-1] += " " + line.strip()
    return claims


def _problems(i: int, cell, when: str) -> list[str]:
    """What a class must not see in this run of cell ``i``."""
    found = []
    tags = cell.metadata.get("tags", [])
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error" and "raises-exception" not in tags:
            found.append(f"{when}: cell {i} raised {out['ename']}: {out['evalue']}")
    text = _text(cell)
    found += [f"{when}: cell {i} printed {bad!r}" for bad in NEVER if bad in text]
    if NOT_A_NUMBER.search(text):
        found.append(f"{when}: cell {i} printed nan or inf: {text}")
    for claim in _claims(text):
        if claim.startswith("✗") and not CHANCE_OR_MACHINE.search(claim):
            found.append(f"{when}: cell {i} claims {claim!r}, and blames neither chance nor a busy machine")
    return found


def _run(client, nb, i: int):
    """Run cell ``i`` once more (a copy, so each run keeps its own outputs)."""
    cell = copy.deepcopy(nb.cells[i])
    client.execute_cell(cell, i)
    return cell


def _probe(client, nb, code: str) -> str:
    """Run ``code`` in the notebook's kernel, as a cell of its own that the notebook does not hold."""
    cell = nbformat.v4.new_code_cell(code)
    nb.cells.append(cell)  # for the moment it runs: the client looks cells up by index
    try:
        client.execute_cell(cell, len(nb.cells) - 1)
    finally:
        nb.cells.pop()
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    assert not errors, f"the probe {code!r} failed: {errors[0]['evalue']}"
    return _text(cell)


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(AGAIN), ids=lambda n: n.split("-")[0])
def test_cells_run_again_in_order_and_out_of_order(name):
    """Run All; every code cell again, in order; then the lesson's likely "again" cells out of order.
    No error or traceback anywhere; every ✗ blames chance or a busy machine; each "again" cell says what
    its prose says (or what to run first); lesson 09's cluster cells say which cluster they run on;
    lesson 06's widget names the run whose table "Predict" printed."""
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=int(seconds(120)),
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    steps = [(_cell(nb, again.cell), again) for again in AGAIN[name]]
    predict = _cell(nb, "result = side.run()") if name == "06-side-by-side.ipynb" else None
    problems: list[str] = []
    took = {}
    with client.setup_kernel():
        for when in ("Run All", "again, in order"):
            t0 = time.perf_counter()
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    ran = _run(client, nb, i)
                    problems += _problems(i, ran, when)
                    if i == predict:
                        table = _text(ran)
            took[when] = time.perf_counter() - t0
            if predict is not None:  # the deep dives ran after Predict: the widget still shows its run
                problems += _widget_and_table_agree(client, nb, table, when)
        t0 = time.perf_counter()
        for i, again in steps:
            cell = _run(client, nb, i)
            when = f"out of order ({again.why})"
            problems += _problems(i, cell, when)
            text = _text(cell)
            if again.says and not re.search(again.says, text, re.M):
                problems.append(f"{when}: cell {i} printed {text!r}, not /{again.says}/")
            if name == "09-more-than-one-server.ipynb" and "dl.start(servers=3" in cell.source:
                if not WHICH_CLUSTER.search(text):
                    problems.append(f"{when}: cell {i} does not say which cluster it runs on: {text!r}")
            if i == predict:
                table = text
            if predict is not None:
                problems += _widget_and_table_agree(client, nb, table, when)
        took["out of order"] = time.perf_counter() - t0
    print(f"{name}: " + ", ".join(f"{when} {s:.1f} s" for when, s in took.items()))
    assert not problems, "\n".join(problems)


# what the widget above "Predict" shows: "run 1: 52 events (seed 2026)" (lesson 06)
STATUS_PROBE = "import re as _re\nprint(_re.sub('<[^>]+>', '', side.status.value).split('at least')[0].strip())"


def _widget_and_table_agree(client, nb, table: str, when: str) -> list[str]:
    """Lesson 06: the widget above "Predict" names the run whose table "Predict" printed last."""
    shown = _probe(client, nb, STATUS_PROBE).strip()
    named = table.splitlines()[0] if table else ""
    if re.fullmatch(r"run \d+: \d+ events \(seed \d+\)", shown) and named.startswith(shown + ","):
        return []
    return [f"{when}: the widget says {shown!r} above a table for {named!r}"]


# -- the pieces, without a notebook ------------------------------------------------------------


def test_the_side_by_side_widget_shows_the_run_its_table_names_and_runs_enough_events():
    """The status names the run and its events as its table's heading does; a run measured with
    show=False leaves the widget (sliders, status, result) alone; at the rate slider's minimum a run
    still has at least MIN_EVENTS events; the sliders run when let go, not while dragged."""
    from duplexlab.show.widgets.arena import MIN_EVENTS

    with dl.Arena() as arena:
        side = dl.widgets.SideBySide(arena, rate=70, duration=1.0, autorun=False)
        assert all(not s.continuous_update for s in (side.rate, side.burstiness, side.poll_interval))
        result = side.run()
        status = re.sub("<[^>]+>", "", side.status.value)
        assert result.run == 1 and status.startswith(f"run 1: {len(result.event_times)} events (seed {result.seed})")
        assert result.table().splitlines()[0] == result.heading() and result.heading().startswith(
            status.split("at least")[0].strip() + ","
        )
        assert f"at least {MIN_EVENTS} events" in status
        other = side.run(seed=7, burstiness=5, show=False)
        assert other.seed == 7 and other.burstiness == 5 and other.run == 0
        assert side.result is result and side.runs_done == 1 and side.burstiness.value == 1
        assert re.sub("<[^>]+>", "", side.status.value) == status
        lowest = side.run(rate=side.rate.min)
        assert side.rate.min > 0.5 and lowest.rate == side.rate.min
        assert len(lowest.event_times) >= MIN_EVENTS, lowest.event_times
        assert f"run 2: {len(lowest.event_times)} events" in side.status.value.replace("</b>", "")


def test_a_stream_whose_client_left_leaves_no_pending_task(lab, monkeypatch, caplog):
    """An SSE stream that ends because its client went away cancels its wait for the next notification,
    so no "Task was destroyed but it is pending" lands in a later cell (lesson 06 left 100 such streams)."""
    monkeypatch.setattr(events, "SSE_KEEPALIVE", 0.1)  # the server notices a client that left at its next write
    caplog.set_level(logging.ERROR, logger="asyncio")
    lab.notify("gone", "hello")
    with dl.Client(lab.url) as client:
        got = client.events("/api/users/gone/events", count=1, timeout=seconds(5), last_event_id="0")
    assert [e.json()["text"] for e in got] == ["hello"]
    time.sleep(seconds(0.5))  # a few keepalives: the handler finds its client gone and returns
    for _ in range(3):
        gc.collect()
        time.sleep(0.05)
    destroyed = [r.getMessage() for r in caplog.records if "Task was destroyed" in r.getMessage()]
    assert destroyed == [], destroyed


def test_the_cluster_lesson_names_its_cluster():
    """running_on() says the servers and what joins them, the way lesson 09's cells print it."""
    from duplexlab.experiments.cluster import FanOut, running_on

    class Plane:
        kind = "redis-server 7.0.15"

    class Fake:
        n, names, backplane = 3, ["A", "B", "C"], None

    def cluster() -> Cluster:
        return cast("Cluster", Fake())  # running_on reads only these attributes

    assert running_on(cluster()) == "on 3 servers (A, B, C), no backplane"
    Fake.backplane = Plane()
    assert running_on(cluster()) == "on 3 servers (A, B, C), joined by redis-server 7.0.15"
    shown = str(FanOut(2, [("A", ["x", "y"])], {"A": {"x", "y"}}, running_on(cluster())))
    assert shown.splitlines()[0] == "on 3 servers (A, B, C), joined by redis-server 7.0.15:", shown
    assert WHICH_CLUSTER.search(shown)


def test_the_again_cells_are_the_lessons_own():
    """Each "again" cell names one code cell of its lesson (a renamed cell fails here, not silently)."""
    for name, steps in AGAIN.items():
        nb = nbformat.read(Path(NOTEBOOKS / name), as_version=4)
        for again in steps:
            _cell(nb, again.cell)
