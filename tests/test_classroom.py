"""Classroom mode's door, rehearsed on 127.0.0.1: join codes, per-student credentials, removal, the judge off."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import duplexlab as dl
from duplexlab.errors import HTTPStatusError

from .conftest import wait_for


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
        wait_for(
            lambda: (
                {s.name: s.checks for s in classroom.roster.table()}["asha"]
                == {"fresh_messages": "○", "pick_server": "✗"}
            ),
            why=classroom.roster.table,
        )
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
        experiment = dl.widgets.PollingExperiment(own, judge_seconds=0.5, students=1, autorun=False)
        assert experiment.follow is seat  # a student who joined follows the teacher without being told
        alone = dl.widgets.PollingExperiment(own, judge_seconds=0.5, students=1, autorun=False, follow=False)
        assert alone.follow is None
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


def _raw_get(url: str, path: str, credential: str) -> int:
    """GET ``path`` exactly as written (no client normalizing it), with a credential; the status."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {credential}"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_student_reads_and_follows_only_their_own_notifications(classroom):
    """Asha's credential reads and follows Asha's notifications only: Ravi's panel, long poll, events,
    a notification of his by id and his WebSocket (with her credential or her browser ticket) are
    refused with 403 and told what to use; the teacher's credential reads anyone's."""
    from duplexlab.runtime.policy import TICKET_PREFIX

    asha = dl.join(classroom.url, classroom.roster.code, name="asha")
    dl.join(classroom.url, classroom.roster.code, name="ravi")
    hers = classroom.notify("asha", "for asha")
    his = classroom.notify("ravi", "for ravi only")
    with asha.client(check=False) as mine:
        for path in (
            "/api/users/ravi/notifications",
            "/api/users/ravi/notifications/wait?timeout=0",
            "/api/users/ravi/events",
            f"/api/notifications/{his.id}",
        ):
            refused = mine.get(path)
            assert refused.status == 403, (path, refused.status)
            assert "/api/users/asha/" in refused.json()["hint"], refused.json()
        assert "for ravi only" not in "".join(r.text for r in mine.history)
        assert mine.get(f"/api/notifications/{hers.id}").json()["text"] == "for asha"
        assert [n["text"] for n in mine.get("/api/users/asha/notifications").json()["notifications"]] == ["for asha"]
    assert _raw_get(classroom.url, "/api/users/%72avi/notifications", asha.credential) == 403  # "ravi", encoded
    with pytest.raises(InvalidStatus) as socket_refused:
        asha.connect("/notifications/ravi")
    assert socket_refused.value.response.status_code == 403
    assert b"/notifications/asha" in socket_refused.value.response.body
    with pytest.raises(InvalidStatus) as ticket_refused:
        connect(
            classroom.ws_url + "/notifications/ravi",
            proxy=None,
            subprotocols=["duplexlab", TICKET_PREFIX + asha.ticket()],
            open_timeout=5,
        )
    assert ticket_refused.value.response.status_code == 403
    own = asha.connect("/notifications/asha")
    assert json.loads(own.recv(timeout=5))["user"] == "asha"
    own.close()
    teacher = classroom.client()
    assert [n["text"] for n in teacher.get("/api/users/ravi/notifications").json()["notifications"]] == [
        "for ravi only"
    ]
    watching = classroom.connect("/notifications/ravi")
    assert json.loads(watching.recv(timeout=5))["user"] == "ravi"
    watching.close()


def test_only_the_teacher_creates_notifications_for_someone_else(classroom):
    """A student who POSTs a notification for another student (or asks the judge to push a verdict to
    them) gets 403 saying it is the teacher's, and nothing reaches the other; one for themselves is made."""
    asha = dl.join(classroom.url, classroom.roster.code, name="asha")
    with asha.client(check=False) as mine:
        forged = mine.post("/api/users/ravi/notifications", json={"text": "from the teacher: class is cancelled"})
        assert forged.status == 403 and "only the teacher" in forged.json()["error"], forged.json()
        assert "/api/users/asha/notifications" in forged.json()["hint"]
        pushed = mine.post("/api/judge/submissions", json={"code": "print(1)", "notify": "ravi"})
        assert pushed.status in (403, 503), pushed.json()  # 503: no bubblewrap here, the judge is off
        assert mine.post("/api/users/asha/notifications", json={"text": "note to self"}).status == 201
    assert classroom.notifications.for_user("ravi") == []
    assert [n.text for n in classroom.notifications.for_user("asha")] == ["note to self"]
    made = classroom.client().post("/api/users/ravi/notifications", json={"text": "see me after class"})
    assert made.status == 201 and [n.text for n in classroom.notifications.for_user("ravi")] == ["see me after class"]


def test_a_student_chats_under_their_seats_name_whatever_name_says(classroom):
    """A student who connects to /chat?name=teacher is in the room as their seat's name, and the welcome
    says so; their messages reach the others from that name; a second socket of theirs is them again."""
    eve = dl.join(classroom.url, classroom.roster.code, name="eve")
    ravi = dl.join(classroom.url, classroom.roster.code, name="ravi")
    listener = ravi.connect("/chat?name=ravi")
    assert json.loads(listener.recv(timeout=5))["you"] == "ravi"
    posing = eve.connect("/chat?name=teacher")
    welcome = json.loads(posing.recv(timeout=5))
    assert welcome["you"] == "eve" and "seat" in welcome["renamed"] and "teacher" in welcome["renamed"]
    posing.send(json.dumps({"type": "message", "text": "homework is cancelled"}))
    while (message := json.loads(listener.recv(timeout=5)))["type"] != "message":
        pass
    assert message["from"] == "eve"
    again = eve.connect("/chat")  # no name at all: still eve, not eve-2
    assert json.loads(again.recv(timeout=5))["you"] == "eve"
    assert classroom.websockets.room.online() == ["eve", "ravi"]
    for ws in (listener, posing, again):
        ws.close()


def test_a_name_taken_once_is_never_given_to_someone_else(classroom):
    """Names become lessons' user names (Asha.K → asha_k); a removed student's name is not handed to the
    next who asks for it, so nobody inherits their notifications; nobody joins as a 'teacher…'; a join
    code with non-ASCII letters is just wrong (403), not a server error."""
    for posing in ("teacher", "Teacher-2"):
        with pytest.raises(HTTPStatusError, match="the teacher's") as refused:
            dl.join(classroom.url, classroom.roster.code, name=posing)
        assert refused.value.status == 400
    with pytest.raises(HTTPStatusError) as odd_code:
        dl.join(classroom.url, "ÄBCDEFGH", name="ana")
    assert odd_code.value.status == 403
    first = dl.join(classroom.url, classroom.roster.code, name="Meera.K")
    assert first.name == "meera_k"
    classroom.notify("meera_k", "your grade: A")
    classroom.remove_student("meera_k")
    second = dl.join(classroom.url, classroom.roster.code, name="meera_k")
    assert second.name == "meera_k-2"
    with second.client(check=False) as theirs:
        assert theirs.get("/api/users/meera_k/notifications").status == 403


@pytest.fixture
def held_judge(monkeypatch):
    """A classroom lab whose judge is on (as with bubblewrap) and whose submissions run until released."""
    import asyncio
    import threading

    from duplexlab.apps import sandbox

    release = threading.Event()

    async def held(code, limits, *, isolate=False):
        assert isolate, "a classroom's judge isolates every submission"
        while not release.is_set():
            await asyncio.sleep(0.01)
        return sandbox.Outcome("ok", f"ran {code}\n", "", 0, 0.0, 0, {"isolation": "held by the test"})

    monkeypatch.setattr(sandbox, "isolation", lambda: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "run", held)
    lab = dl.Lab(classroom=True).start()
    try:
        yield lab, release
    finally:
        release.set()
        lab.close()


def test_a_judge_result_is_read_only_by_its_submitter_and_the_teacher(held_judge):
    """The judge remembers who submitted: another student polling that id gets 403, the submitter and
    the teacher get the verdict."""
    lab, release = held_judge
    asha = dl.join(lab.url, lab.roster.code, name="asha")
    ravi = dl.join(lab.url, lab.roster.code, name="ravi")
    with asha.client() as mine, ravi.client(check=False) as other:
        sub = mine.post("/api/judge/submissions", json={"code": "print('asha secret')"}).json()
        release.set()
        done = mine.poll(sub["poll"], interval=0.05).answer.json()
        assert done["output"] == "ran print('asha secret')\n"
        peek = other.get(sub["poll"])
        assert peek.status == 403 and "not yours" in peek.json()["error"] and "asha secret" not in peek.text
    assert lab.judge.get(sub["id"]).submitter == "asha"
    assert lab.client().get(sub["poll"]).json()["output"] == "ran print('asha secret')\n"


def test_one_student_cannot_fill_the_class_judge_queue(held_judge):
    """Each student has at most MAX_PER_SUBMITTER submissions waiting or running: the next gets 429 with
    Retry-After and says why, another student is still served, and a finished one frees a place."""
    from duplexlab.apps.judge import MAX_PER_SUBMITTER

    lab, release = held_judge
    greedy = dl.join(lab.url, lab.roster.code, name="greedy")
    calm = dl.join(lab.url, lab.roster.code, name="calm")
    with greedy.client(check=False) as mine, calm.client(check=False) as theirs:
        statuses = [mine.post("/api/judge/submissions", json={"code": f"print({i})"}).status for i in range(4)]
        assert statuses == [202] * MAX_PER_SUBMITTER + [429] * (4 - MAX_PER_SUBMITTER)
        refused = mine.history[-1]
        assert refused.headers["Retry-After"].isdigit()
        assert f"each student may have {MAX_PER_SUBMITTER}" in refused.json()["error"]
        assert theirs.post("/api/judge/submissions", json={"code": "print('mine')"}).status == 202
        release.set()
        first = mine.history[0].json()["poll"]
        mine.poll(first, interval=0.05)
        deadline = time.monotonic() + 5
        while lab.judge._in_flight.get("greedy"):
            assert time.monotonic() < deadline, lab.judge._in_flight
            time.sleep(0.02)
        assert mine.post("/api/judge/submissions", json={"code": "print('again')"}).status == 202
    assert len(lab.judge.submissions) == MAX_PER_SUBMITTER + 2


def test_a_classroom_runs_one_server_and_shares_it_only_with_credentials():
    """dl.start refuses what would serve a network with nothing checking who asks: a classroom with a
    cluster, a cluster off loopback, a lab on all interfaces without classroom mode; the lab already
    running goes on."""
    from duplexlab.cluster.cluster import Cluster
    from duplexlab.errors import OpenDoorError
    from duplexlab.runtime.loop import LoopThread

    lab = dl.start()
    try:
        with pytest.raises(OpenDoorError, match="classroom lab runs one server") as cluster:
            dl.start(classroom=True, host="127.0.0.1", servers=3)
        assert isinstance(cluster.value, ValueError) and cluster.value.servers == 3
        with pytest.raises(OpenDoorError, match="pass classroom=True") as open_lan:
            dl.start(host="0.0.0.0")
        assert 'dl.start(classroom=True, host="0.0.0.0")' in str(open_lan.value)
        assert dl.current() is lab and lab.running
        with pytest.raises(OpenDoorError, match="pass classroom=True"):
            dl.Lab(host="192.0.2.10")
        with pytest.raises(OpenDoorError, match="stays on 127.0.0.1"):
            Cluster(2, loop=LoopThread(name="never-started"), host="192.0.2.10")
        assert dl.Lab(host="localhost").host == "localhost"  # loopback by name is fine
    finally:
        dl.stop()


@ISOLATED
def test_a_classroom_submission_sees_only_its_own_processes_whoever_the_teacher_runs_as(classroom):
    """Inside bubblewrap a submission has a process namespace and a /proc of its own: it lists only its
    own few processes, the lab's pid is not there to signal, its environ not there to read; the same holds
    when the teacher's lab runs as an ordinary user (tried as nobody when the tests run as root)."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    probe = (  # LAB: the lab's pid
        "import os\n"
        "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        "print('pids', pids)\n"
        "tries = [('kill', lambda: os.kill(LAB, 0)), ('environ', lambda: open('/proc/%d/environ' % LAB).read())]\n"
        "for name, act in tries:\n"
        "    try:\n"
        "        act(); print(name, 'reached the lab')\n"
        "    except OSError as exc:\n"
        "        print(name, type(exc).__name__)\n"
    )

    def assert_confined(output: str, lab_pid: int) -> None:
        lines = output.splitlines()
        pids = json.loads(lines[0].removeprefix("pids "))
        assert lab_pid not in pids and len(pids) <= 4, output  # bwrap's init, the sandbox's child, the code
        assert lines[1:] == ["kill ProcessLookupError", "environ FileNotFoundError"], output

    seat = dl.join(classroom.url, classroom.roster.code, name="mei")
    with seat.client() as mine:
        sub = mine.post("/api/judge/submissions", json={"code": probe.replace("LAB", str(os.getpid()))}).json()
        done = mine.poll(sub["poll"], interval=0.1).answer.json()
    assert done["verdict"] == "ok", done
    assert_confined(done["output"], os.getpid())

    from duplexlab.apps.sandbox import nobody_python

    root, runuser, python = Path(dl.__file__).resolve().parents[1], shutil.which("runuser"), nobody_python()
    if os.geteuid() != 0 or runuser is None or python is None or not os.access(root, os.R_OK):
        return  # the tests already run as an ordinary user (the part above was that case), or nobody can't run them
    if any(p.stat().st_mode & 0o005 != 0o005 for p in [root / "duplexlab", root, *root.parents]):
        return  # nobody can't read the package here
    as_teacher = (
        "import asyncio, json, os\n"
        "from duplexlab.apps import sandbox\n"
        f"code = {probe!r}.replace('LAB', str(os.getpid()))\n"
        "outcome = asyncio.run(sandbox.run(code, isolate=True))\n"
        "print(json.dumps([os.getuid(), os.getpid(), outcome.verdict, outcome.output, outcome.limits]))\n"
    )
    env = {"PATH": os.defpath, "HOME": "/tmp", "PYTHONPATH": str(root), "LANG": "C.UTF-8"}
    ran = subprocess.run(
        [runuser, "-u", "nobody", "--", python, "-c", as_teacher],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/tmp",
    )
    assert ran.returncode == 0, ran.stderr
    uid, lab_pid, verdict, output, limits = json.loads(ran.stdout.splitlines()[-1])
    assert uid != 0 and verdict == "ok", (verdict, output)
    assert_confined(output, lab_pid)
    assert "other processes are out of its reach" in limits["user"]


def test_the_dashboard_says_who_is_here_and_counts_each_push_and_its_bytes(classroom):
    """Who is here now (a socket open or a request just made) beside who only joined; every message a
    student's sockets got (chat lines included) and its bytes, in their row and in the push load."""
    from duplexlab.show.widgets import dashboard

    asha = dl.join(classroom.url, classroom.roster.code, name="asha")
    dl.join(classroom.url, classroom.roster.code, name="ravi")  # joined, then silent
    board = dl.widgets.Dashboard(classroom, every=0.2)
    notes = asha.connect("/notifications/asha")
    chat = asha.connect("/chat?name=asha")
    hello = [json.loads(notes.recv(timeout=5)), json.loads(chat.recv(timeout=5))]
    text = "your friend request was accepted"
    classroom.notify("asha", text)
    pushed = json.loads(notes.recv(timeout=5))
    chat.send(json.dumps({"type": "message", "text": "hi class"}))
    line = json.loads(chat.recv(timeout=5))
    assert pushed["text"] == text and line["text"] == "hi class" and [h["type"] for h in hello][1] == "welcome"
    # The room counts a chat line just after writing it: asha may read it a moment before it is counted.
    wait_for(lambda: {r["name"]: r for r in board.rows()}["asha"]["pushed"] == 4)
    rows = {r["name"]: r for r in board.rows()}
    assert rows["asha"]["here"] and not rows["ravi"]["here"] and rows["ravi"]["seen_ago"] is None
    assert rows["asha"]["pushed"] == 4  # subscribed, welcome, the notification, the chat line
    assert rows["asha"]["pushed_bytes"] >= len(text) + len("hi class") + 4 * len('{"type": ""}')
    time.sleep(0.5)
    board._refresh()
    assert "2 student(s)</b>, 1 here now" in board.load.value and "● here" in board.table.value
    assert "not yet" in board.table.value
    notes.close()
    chat.close()
    with asha.client() as mine:
        mine.get("/api/users/asha/notifications")
    assert {r["name"]: r for r in board.rows()}["asha"]["here"]  # no socket, but a request just now
    assert dashboard.HERE > 1
    assert "1 here now" in board.load_line() and "<b>" not in board.load_line()
    board.pick.value = "ravi"
    board._remove_clicked()  # Remove asks first
    assert "ravi" in classroom.roster.students and "Click again" in board.remove_button.description
    board._remove_clicked()
    assert "ravi" not in classroom.roster.students and board.pick.value is None
    board.pick.value = "asha"
    board._remove_clicked()
    board._confirming = ("asha", time.monotonic() - dashboard.CONFIRM_WITHIN)  # the question lapsed
    board._refresh()
    assert board.remove_button.description == "Remove"  # says so: the next click asks again
    board._remove_clicked()
    assert "asha" in classroom.roster.students


def _lan_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None without one."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_in_a_classroom_a_tap_shares_only_the_lab_and_keeps_anything_else_on_this_machine():
    """A tap in front of the classroom lab listens on the LAN address (the lab checks credentials);
    a tap in front of another service stays on 127.0.0.1, where no student reaches it."""
    address = _lan_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    with dl.WebSocketServer(lambda ws: ws.close()) as other, dl.Lab(classroom=True, host=address) as lab:
        assert lab.tap(lab.ws_url).url.startswith(f"ws://{address}:")
        assert lab.tap(lab.url).url.startswith(f"http://{address}:")
        elsewhere = lab.tap(other.url)
        assert elsewhere.url.startswith("ws://127.0.0.1:"), elsewhere.url
