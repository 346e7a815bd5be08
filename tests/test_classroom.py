"""Classroom mode's door, rehearsed on 127.0.0.1: join codes, per-student credentials, removal, the judge off."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import duplexlab as dl
from duplexlab.errors import HTTPStatusError


@pytest.fixture
def classroom():
    """A classroom lab rehearsed on 127.0.0.1; afterwards no seat is left to report checks to it."""
    from duplexlab.clients import seat as seats

    lab = dl.Lab(classroom=True).start()
    try:
        yield lab
    finally:
        seats._current = None
        lab.close()


def test_a_student_joins_with_the_code_and_everything_needs_the_credential(classroom):
    """The join line's code gives a credential; without it HTTP answers 401 and a WebSocket is refused."""
    assert classroom.roster is not None and classroom.roster.code in classroom.join_line()
    seat = dl.join(classroom.url, classroom.roster.code, name="asha")
    assert seat.name == "asha" and classroom.roster.students == ["asha"]
    classroom.notify("asha", "welcome to class")
    with seat.client() as mine:
        assert [n["text"] for n in mine.get("/api/users/asha/notifications").json()["notifications"]] == [
            "welcome to class"
        ]
    with dl.Client(classroom.url) as stranger:
        refused = stranger.get("/api/users/asha/notifications", check=False)
        assert refused.status == 401 and "credential" in refused.json()["error"]
        assert stranger.get("/api/health").status == 200  # reachable, so a student can diagnose
    with pytest.raises(InvalidStatus) as no_credential:
        connect(classroom.ws_url + "/chat?name=eve", proxy=None, open_timeout=5)
    assert no_credential.value.response.status_code == 401
    ws = seat.connect("/chat?name=asha")
    assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
    ws.close()


def test_rotating_the_code_keeps_students_in_and_stops_new_joins(classroom):
    """After a rotation the old code is refused (403); a student already in goes on."""
    roster = classroom.roster
    old = roster.code
    seat = dl.join(classroom.url, old, name="ravi")
    roster.rotate()
    with pytest.raises(HTTPStatusError) as stale:
        dl.join(classroom.url, old, name="late")
    assert stale.value.status == 403
    with seat.client() as mine:
        assert mine.get("/api/users/ravi/notifications").status == 200
    assert dl.join(classroom.url, roster.code, name="late").name == "late"


def test_a_removed_student_is_shut_out_and_their_sockets_close(classroom):
    """The teacher removes a student: their open socket closes with 1008, their credential gets 401."""
    seat = dl.join(classroom.url, classroom.roster.code, name="meera")
    ws = seat.connect("/notifications/meera")
    json.loads(ws.recv(timeout=5))
    assert classroom.remove_student("meera") == 1
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with seat.client(check=False) as mine:
        assert mine.get("/api/users/meera/notifications").status == 401
    with pytest.raises(InvalidStatus):
        seat.connect("/notifications/meera")
    with pytest.raises(ValueError, match="no student"):
        classroom.remove_student("nobody")


def test_without_isolation_the_classroom_judge_is_off_and_says_why(monkeypatch):
    """Where bubblewrap cannot isolate submissions, other people's code never runs on the teacher's
    machine: 503, explained."""
    from duplexlab.apps import sandbox

    monkeypatch.setattr(sandbox, "isolation", lambda: None)
    lab = dl.Lab(classroom=True).start()
    try:
        seat = dl.join(lab.url, lab.roster.code, name="kabir")
        with seat.client(check=False) as mine:
            reply = mine.post("/api/judge/submissions", json={"code": "print(1)"})
        assert reply.status == 503 and "classroom judge is off" in reply.json()["error"]
        assert "your own lab" in reply.json()["hint"]
    finally:
        lab.close()


ISOLATED = pytest.mark.skipif(
    __import__("duplexlab.apps.sandbox", fromlist=["isolation"]).isolation() is None,
    reason="bubblewrap cannot isolate here (bash .ci/run installs Debian's bubblewrap)",
)


@ISOLATED
def test_with_bubblewrap_the_classroom_judge_runs_code_without_network_or_homes(classroom):
    """A classroom's judge runs a submission inside bubblewrap: it answers, but the code sees no home,
    an empty /tmp and no network; the verdict says how it was isolated; a student's sixth quick
    submission is told to wait."""
    seat = dl.join(classroom.url, classroom.roster.code, name="kabir")
    probe = (
        "import os, pathlib, socket, tempfile\n"
        "print(6 * 7)\n"
        "print(sorted(os.listdir('/root')), sorted(os.listdir('/home')))\n"
        "print([p for p in os.listdir('/tmp') if not p.startswith('duplexlab-judge-')])\n"
        "s = socket.socket()\n"
        "try:\n"
        "    s.connect(('192.0.2.1', 80)); print('network: reached')\n"
        "except OSError as exc:\n"
        "    print('network:', exc.errno)\n"
    )
    with seat.client() as mine:
        sub = mine.post("/api/judge/submissions", json={"code": probe}).json()
        done = mine.poll(sub["poll"], interval=0.1).answer.json()
    assert done["verdict"] == "ok", done
    lines = done["output"].splitlines()
    assert lines[0] == "42"
    assert lines[1] == "[] []" and lines[2] == "[]"
    assert lines[3].startswith("network:") and "reached" not in lines[3]
    assert "bubblewrap" in done["limits"]["isolation"]
    with seat.client(check=False) as mine:
        statuses = [mine.post("/api/judge/submissions", json={"code": "pass"}).status for _ in range(6)]
    assert statuses.count(429) >= 1 and statuses[0] == 202


def test_the_teachers_own_clients_and_sockets_carry_the_teachers_credential(classroom):
    """In classroom mode the teacher's lab.client() and lab.connect() still work as before."""
    assert classroom.client().get("/api/users/asha/notifications").status == 200
    ws = classroom.connect("/echo")
    ws.send("hi")
    assert ws.recv(timeout=5) == "hi"
    ws.close()


def test_joining_an_unreachable_lab_says_why_in_plain_words():
    """dl.join to a port where nothing listens raises ConnectionError with the diagnosis."""
    from .conftest import free_port

    with pytest.raises(ConnectionError, match="refused"):
        dl.join(f"http://127.0.0.1:{free_port()}", "ABCDEFGH", name="asha")


def test_each_students_requests_are_counted_and_limited_on_their_own(classroom):
    """The lab counts each student's requests and bytes; one student over the rate limit gets 429
    with Retry-After, while another student is served."""
    from duplexlab.runtime.classroom import RATE_LIMIT

    fast = dl.join(classroom.url, classroom.roster.code, name="fast")
    calm = dl.join(classroom.url, classroom.roster.code, name="calm")
    with fast.client(check=False) as a, calm.client(check=False) as b:
        statuses = [a.get("/api/users/fast/notifications").status for _ in range(int(RATE_LIMIT) + 20)]
        assert 429 in statuses and statuses[0] == 200
        limited = next(r for r in a.history if r.status == 429)
        assert limited.headers["Retry-After"] == "1"
        assert b.get("/api/users/calm/notifications").status == 200
    table = {s.name: s for s in classroom.roster.table()}
    assert table["fast"].requests == statuses.count(200) and table["fast"].limited == statuses.count(429)
    assert table["calm"].requests == 1 and table["calm"].bytes_out > 0


def test_a_students_exercise_checks_reach_the_teachers_dashboard(classroom, monkeypatch):
    """After dl.join, each exercise check tells the teacher's dashboard ✓, ✗ or ○ (never the code)."""
    import time

    from duplexlab.clients import seat as seats

    seat = dl.join(classroom.url, classroom.roster.code, name="asha")
    try:

        def untouched(messages, last): ...

        def right(messages, last):
            new = []
            for number, data in sorted(messages, key=lambda m: m[0]):
                if number > last:
                    new.append(data)
                    last = number
            return new, last

        dl.check.fresh_messages(untouched)
        dl.check.pick_server(lambda *a: "A")
        deadline = time.monotonic() + 5
        while {s.name: s.checks for s in classroom.roster.table()}["asha"] != {
            "fresh_messages": "○",
            "pick_server": "✗",
        }:
            assert time.monotonic() < deadline, classroom.roster.table()
            time.sleep(0.05)
        dl.check.fresh_messages(right)
        seat.report("fresh_messages", "✓", wait=True)
        board = dl.widgets.Dashboard(classroom)
        row = next(r for r in board.rows() if r["name"] == "asha")
        assert row["checks"] == {"fresh_messages": "✓", "pick_server": "✗"}
    finally:
        monkeypatch.setattr(seats, "_current", None)


def test_the_teachers_interval_slider_moves_every_following_students_experiment(classroom):
    """The dashboard's class polling interval reaches a student's own polling experiment (which runs
    against the student's own lab: the classroom judge is off), and it runs again at that interval."""
    import time

    board = dl.widgets.Dashboard(classroom)
    seat = dl.join(classroom.url, classroom.roster.code, name="ravi")
    with dl.Lab() as own:
        experiment = dl.widgets.PollingExperiment(own, judge_seconds=0.5, students=1, autorun=False, follow=seat)
        board.interval.value = 0.3
        deadline = time.monotonic() + 10
        while experiment.interval.value != 0.3 or experiment.runs_done < 1:
            assert time.monotonic() < deadline, (experiment.interval.value, experiment.runs_done)
            time.sleep(0.05)
        experiment.wait_idle()
        assert experiment.results and experiment.results[-1].interval == 0.3


def test_a_browser_ticket_needs_the_credential_and_dies_with_the_student(classroom):
    """A ticket (for a page whose Origin says nothing) comes only with a credential; a removed student's
    unused ticket no longer opens a socket."""
    from duplexlab.runtime.policy import TICKET_PREFIX

    seat = dl.join(classroom.url, classroom.roster.code, name="kabir")
    protocols = ["duplexlab", TICKET_PREFIX + seat.ticket()]
    with connect(classroom.ws_url + "/echo", proxy=None, subprotocols=protocols, open_timeout=5) as ws:
        ws.send("ok")
        assert ws.recv(timeout=5) == "ok"
    spare = seat.ticket()
    with dl.Client(classroom.url, check=False) as stranger:
        assert stranger.post("/api/classroom/ticket", json={}).status == 401
    classroom.remove_student("kabir")
    with pytest.raises(InvalidStatus) as refused:
        connect(classroom.ws_url + "/echo", proxy=None, subprotocols=["duplexlab", TICKET_PREFIX + spare])
    assert refused.value.response.status_code == 403
