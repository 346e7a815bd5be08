"""Classroom mode across real network boundaries: the teacher's lab in one network namespace, students in three others.

Namespaces joined to the teacher's by veth pairs, documentation addresses (192.0.2.0/24). The
teacher's lab runs in its namespace and takes commands on its standard input; each student
namespace runs one process with many students in it. Everything is deleted afterwards, even when
a test fails (and ``.ci/run`` removes ``dl-*`` namespaces an interrupted run left).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys

import pytest

from duplexlab.apps.sandbox import isolation

from .helpers import FLOOD, seconds

pytestmark = [
    pytest.mark.netns,
    pytest.mark.process,
    pytest.mark.skipif(
        shutil.which("ip") is None or os.geteuid() != 0, reason="needs root and iproute2 (bash .ci/run installs it)"
    ),
]

TEACHER = "192.0.2.1"

TEACHER_CODE = r"""
import contextlib, json, sys, duplexlab as dl
with contextlib.redirect_stdout(sys.stderr):  # the join line it prints is for people
    lab = dl.start(classroom=True, host=sys.argv[1])
if len(sys.argv) > 2:  # a namespace stands for a room of students behind one address
    lab.roster.limits.seats_per_address = int(sys.argv[2])
print(json.dumps({"url": lab.url, "ws_url": lab.ws_url, "code": lab.roster.code}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "notify":
        lab.notify(cmd["user"], cmd["text"])
        out = {"ok": True}
    elif cmd["op"] == "rotate":
        out = {"code": lab.roster.rotate()}
    elif cmd["op"] == "remove":
        out = {"closed": lab.remove_student(cmd["name"])}
    elif cmd["op"] == "revoked":  # a credential that was good once, then taken back
        name, credential = lab.roster.join(lab.roster.code, "leaver")
        lab.remove_student(name)
        out = {"credential": credential}
    elif cmd["op"] == "table":  # what the teacher's dashboard shows
        out = {row["name"]: row for row in dl.widgets.Dashboard(lab).rows()}
    print(json.dumps(out), flush=True)
"""

STUDENTS_CODE = r"""
import json, sys, time, threading
import duplexlab as dl
from websockets.exceptions import InvalidStatus
url, code, role, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])  # outsider: url, ws_url, stale, revoked
report = {}
if role == "chat":
    seats = [dl.join(url, code, name=f"chat{i}") for i in range(n)]
    sockets = [s.connect(f"/chat?name={s.name}") for s in seats]
    for ws in sockets:
        json.loads(ws.recv(timeout=10))  # welcome
    notes = [s.connect(f"/notifications/{s.name}") for s in seats]
    for ws in notes:
        json.loads(ws.recv(timeout=10))  # subscribed
    print(json.dumps({"ready": [s.name for s in seats]}), flush=True)
    sys.stdin.readline()  # the teacher has pushed one notification to each
    report["pushed"] = [json.loads(ws.recv(timeout=10))["text"] for ws in notes]
    sockets[0].send(json.dumps({"type": "message", "text": "hello class"}))
    heard = 0
    for ws in sockets[1:]:
        while True:
            m = json.loads(ws.recv(timeout=10))
            if m.get("type") == "message" and m.get("text") == "hello class":
                heard += 1
                break
    report["heard_chat"] = heard
    with seats[0].client(check=False) as c:
        answer = c.post("/api/judge/submissions", json={"code": "print(1)"})
        if answer.status == 503:
            report["judge"] = answer.json()["error"]
        else:
            done = c.poll(answer.json()["poll"], interval=0.1).answer.json()
            report["judge"] = f"{done['verdict']}: {done['output'].strip()} ({done['limits'].get('isolation', '')})"
elif role == "poll":
    seats = [dl.join(url, code, name=f"poll{i}") for i in range(n)]
    sent = {}
    def poll(seat):
        with seat.client() as c:
            for _ in range(5):
                c.get(f"/api/users/{seat.name}/notifications")
                time.sleep(0.2)
        sent[seat.name] = 5
    threads = [threading.Thread(target=poll, args=(s,)) for s in seats]
    [t.start() for t in threads]
    [t.join() for t in threads]
    report["sent"] = sent
elif role == "hold":
    seats = [dl.join(url, code, name=f"hold{i}") for i in range(n)]
    sockets = [s.connect(f"/notifications/{s.name}") for s in seats]
    for ws in sockets:
        json.loads(ws.recv(timeout=10))
    report["held"] = len(sockets)
    print(json.dumps({"ready": [s.name for s in seats]}), flush=True)
    sys.stdin.readline()
elif role == "outsider":
    import urllib.error, urllib.request
    from websockets.sync.client import connect
    ws_url, stale, revoked = sys.argv[5], sys.argv[6], sys.argv[7]
    found = {}
    for what, headers in (("none", {}), ("forged", {"Authorization": "Bearer not-a-credential"}),
                          ("revoked", {"Authorization": "Bearer " + revoked})):
        statuses = []
        for method, path, body in (("GET", "/api/users/chat0/notifications", None),
                                   ("POST", "/api/judge/submissions", b'{"code": "print(1)"}')):
            req = urllib.request.Request(url + path, data=body, method=method,
                                         headers={**headers, "Content-Type": "application/json"})
            try:
                statuses.append(urllib.request.urlopen(req, timeout=5).status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        for path in ("/chat?name=intruder", "/notifications/chat0"):
            try:
                connect(ws_url + path, proxy=None, additional_headers=headers, open_timeout=5).close()
                statuses.append(101)
            except InvalidStatus as exc:
                statuses.append(exc.response.status_code)
        found[what] = statuses
    try:
        dl.join(url, stale, name="late")
        found["stale_code"] = "joined"
    except Exception as exc:
        found["stale_code"] = getattr(exc, "status", repr(exc))
    report["outsider"] = found
print(json.dumps(report), flush=True)
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def school():
    """A teacher namespace and three student namespaces, each on its own veth pair to the teacher's."""
    tag = secrets.token_hex(3)
    teacher = f"dl-t-{tag}"
    students = [f"dl-s{k}-{tag}" for k in range(3)]
    made: list[str] = []
    try:
        for name in (teacher, *students):
            ip("netns", "add", name)
            made.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("-n", teacher, "link", "add", "br0", "type", "bridge")
        ip("-n", teacher, "addr", "add", f"{TEACHER}/24", "dev", "br0")
        ip("-n", teacher, "link", "set", "br0", "up")
        for k, ns in enumerate(students):
            a, b = f"dlc{k}{tag}", f"dld{k}{tag}"
            ip("link", "add", a, "type", "veth", "peer", "name", b)
            ip("link", "set", a, "netns", teacher)
            ip("link", "set", b, "netns", ns)
            ip("-n", teacher, "link", "set", a, "master", "br0")
            ip("-n", teacher, "link", "set", a, "up")
            ip("-n", ns, "addr", "add", f"192.0.2.{10 + k}/24", "dev", b)
            ip("-n", ns, "link", "set", b, "up")
        yield teacher, students
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def run_in(ns: str, code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def line(proc: subprocess.Popen) -> dict:
    assert proc.stdout is not None
    text = proc.stdout.readline()
    assert text, f"the process ended (exit {proc.poll()})"
    return json.loads(text)


def say(proc: subprocess.Popen, message: dict | str) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) if isinstance(message, dict) else message) + "\n")
    proc.stdin.flush()


def test_a_class_across_namespaces_chats_gets_pushes_polls_and_shuts_out_who_has_no_credential(school):
    """Teacher in one namespace, students in three: students with credentials chat, get pushed
    notifications and a judge verdict (run inside bubblewrap; or the clear "classroom judge off"
    where it cannot isolate); 30 poll while 30 hold sockets, and the
    teacher's counts match what they sent; no credential, a forged or revoked one, or a stale code
    get nothing: no notifications, no judge, no socket."""
    teacher_ns, (chat_ns, poll_ns, hold_ns) = school
    teacher = run_in(teacher_ns, TEACHER_CODE, TEACHER, "40")
    procs = [teacher]
    try:
        hello = line(teacher)
        url, code = hello["url"], hello["code"]
        assert url.startswith(f"http://{TEACHER}:")
        chat = run_in(chat_ns, STUDENTS_CODE, url, code, "chat", "5")
        hold = run_in(hold_ns, STUDENTS_CODE, url, code, "hold", "30")
        procs += [chat, hold]
        names = line(chat)["ready"]
        assert line(hold)["ready"]
        for name in names:
            say(teacher, {"op": "notify", "user": name, "text": f"hello {name}"})
            line(teacher)
        say(chat, "go")
        poll = run_in(poll_ns, STUDENTS_CODE, url, code, "poll", "30")
        procs.append(poll)
        polled = line(poll)
        chatted = line(chat)
        assert chatted["pushed"] == [f"hello {name}" for name in names]
        assert chatted["heard_chat"] == len(names) - 1
        if isolation() is not None:  # the classroom judge runs it, inside bubblewrap
            assert chatted["judge"].startswith("ok: 1 (bubblewrap"), chatted["judge"]
        else:
            assert "classroom judge is off" in chatted["judge"]

        say(teacher, {"op": "table"})
        table = line(teacher)
        for name, sent in polled["sent"].items():
            assert table[name]["requests"] == sent, (name, table[name])
        assert sum(1 for n in table if n.startswith("hold") and table[n]["sockets"] == 1) == 30
        assert all(table[n]["pushed"] >= 3 for n in names)  # 2 greetings, the teacher's push, the chat line

        say(teacher, {"op": "remove", "name": "hold0"})  # still connected: the hold process waits
        assert line(teacher)["closed"] == 1
        say(teacher, {"op": "rotate"})
        assert line(teacher)["code"] != code
        say(teacher, {"op": "revoked"})
        revoked = line(teacher)["credential"]
        outsider = run_in(poll_ns, STUDENTS_CODE, url, "", "outsider", "0", hello["ws_url"], code, revoked)
        procs.append(outsider)
        found = line(outsider)["outsider"]
        for what in ("none", "forged", "revoked"):
            assert found[what] == [401, 401, 401, 401], (what, found[what])  # read, judge, chat, pushes
        assert found["stale_code"] == 403
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


STEADY_CODE = r"""
import json, sys, time
import duplexlab as dl
seat = dl.join(sys.argv[1], sys.argv[2], name="steady")
print(json.dumps({"ready": seat.name}), flush=True)
sys.stdin.readline()  # the flood is on
t0 = time.perf_counter()
with seat.client(check=False, timeout=10) as c:
    status = c.get("/api/health").status
t1 = time.perf_counter()
ws = seat.connect("/echo", open_timeout=10)
ws.send("still here")
echoed = ws.recv(timeout=10)
ws.close()
print(json.dumps({"health": status, "health_s": t1 - t0, "echo": echoed, "ws_s": time.perf_counter() - t1}), flush=True)
"""


def test_a_flood_of_half_requests_from_one_address_leaves_the_class_served(school):
    """10,500 connections that each send half a request, from one namespace (no join code needed): the
    lab holds only that address's share and answers the rest 503, so a student in another namespace
    still gets /api/health and an echo over a WebSocket, each within 2 s."""
    from urllib.parse import urlsplit

    teacher_ns, (flood_ns, student_ns, _) = school
    teacher = run_in(teacher_ns, TEACHER_CODE, TEACHER)
    procs = [teacher]
    try:
        hello = line(teacher)
        steady = run_in(student_ns, STEADY_CODE, hello["url"], hello["code"])
        procs.append(steady)
        assert line(steady)["ready"] == "steady"
        half = "GET /api/health HTTP/1.1\\r\\nHost: x\\r\\n"
        flood = run_in(flood_ns, FLOOD, TEACHER, str(urlsplit(hello["url"]).port), "10500", half)
        procs.append(flood)
        print("flood:", line(flood))
        say(steady, "go")
        served = line(steady)
        print("the student, during the flood:", served)
        assert served["health"] == 200 and served["echo"] == "still here", served
        assert served["health_s"] < seconds(2) and served["ws_s"] < seconds(2), served
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
