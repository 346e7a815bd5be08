"""Several real server processes behind the lab's balancer, with no backplane, the embedded one and a real Redis."""

from __future__ import annotations

import collections
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

import duplexlab as dl
from duplexlab.cluster.balancer import pick
from duplexlab.errors import ClusterError

from .helpers import FLOOD, accepts, free_port, seconds, wait_for

pytestmark = pytest.mark.process  # cluster servers and redis-server


@pytest.fixture(scope="module")
def redis_url():
    """A real redis-server (Debian's package; `bash .ci/run` installs it) on a free port, for this module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs Debian's)")
    port, password = free_port(), secrets.token_hex(8)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--requirepass", password],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    wait_for(lambda: accepts(port), timeout=10, why=lambda: "redis-server did not start", interval=0.05)
    yield url
    proc.terminate()  # its output goes to /dev/null: no unread pipe to block on
    try:
        proc.wait(seconds(5))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(seconds(5))


BACKPLANES = ["embedded", "redis"]


def backplane_spec(which: str, request) -> str:
    return request.getfixturevalue("redis_url") if which == "redis" else which


@pytest.fixture
def cluster_lab(request):
    """A lab with three server processes; the test's parameter says which backplane (or none)."""
    which = request.param
    spec = None if which == "none" else backplane_spec(which, request)
    lab = dl.Lab(servers=3, backplane=spec).start()
    try:
        yield lab
    finally:
        lab.close()


def fan_out(lab: dl.Lab, clients: int, notes: int) -> tuple[list[tuple[str, list[str]]], dict[str, set[str]]]:
    """``clients`` sockets on /notifications/crowd through the balancer; ``notes`` notifications made
    round robin on the servers. Returns (each client's server and what it got, what each server made)."""
    assert lab.cluster is not None
    found = dl.experiments.fan_out(lab.cluster, pages=clients, notes=notes, quiet=seconds(2))
    return found.pages, found.made


@pytest.mark.parametrize("cluster_lab", ["none"], indirect=True)
def test_without_a_backplane_each_client_gets_only_its_own_servers_share(cluster_lab):
    """3 servers, 300 clients spread over them, 100 notifications made round robin: each client gets
    exactly the notifications its own server made (about a third), and misses the rest."""
    results, made = fan_out(cluster_lab, 300, 100)
    servers = collections.Counter(server for server, _ in results)
    assert servers == {"A": 100, "B": 100, "C": 100}
    for server, got in results:
        assert set(got) == made[server], server
    assert sum(len(made[s]) for s in "ABC") == 100


@pytest.mark.parametrize("cluster_lab", BACKPLANES, indirect=True)
def test_with_a_backplane_every_client_gets_every_notification_in_the_same_order(cluster_lab):
    """The same with a backplane (embedded, and a real redis-server): all 300 clients get all 100,
    in one order, whichever server they are on."""
    results, _ = fan_out(cluster_lab, 300, 100)
    orders = {tuple(got) for _, got in results}
    assert len(orders) == 1
    assert len(next(iter(orders))) == 100


@pytest.mark.parametrize("cluster_lab", BACKPLANES, indirect=True)
def test_a_numbered_stream_resumes_on_another_server_with_nothing_lost_or_repeated(cluster_lab):
    """10,000 numbered messages, published from all three servers; the path is cut 100 times and each
    reconnection lands on the next server: the client has 1..10,000 once each, in order."""
    cluster = cluster_lab.cluster
    tap = cluster_lab.tap(cluster.ws_url)
    follower = dl.ResilientClient(tap.url + "/stream/scores", backoff=dl.Backoff(first=0.01, cap=0.05), after=0)
    follower.start()
    try:
        for batch in range(100):
            wait_for(  # back, on the next server
                lambda batch=batch: follower.connections > batch and tap.open_connections >= 1,
                timeout=10,
                why=lambda: follower.status,
                interval=0.005,
            )
            cluster.publish("scores", *range(batch * 100, batch * 100 + 100), on=batch % 3)
            time.sleep(0.005)
            assert tap.cut() == 1
        assert follower.wait_for(10_000, timeout=seconds(60)), f"{len(follower.received)} of 10,000"
        seqs = [seq for seq, _, _ in follower.received]
        assert seqs == list(range(1, 10_001))
        assert [data for _, data, _ in follower.received] == list(range(10_000))
        assert follower.missing == [] and follower.gaps == []
        assert follower.duplicates == 0  # the servers sent none twice (the client drops and counts repeats)
        # the last cut's reconnection
        wait_for(lambda: follower.connections >= 101, timeout=10, why=lambda: follower.status)
        assert min(cluster.ws.assigned[name] for name in "ABC") >= 30  # every server took reconnections
    finally:
        follower.close()


@pytest.mark.parametrize("cluster_lab", ["embedded"], indirect=True)
def test_a_server_behind_the_log_does_not_send_numbers_the_client_already_has(cluster_lab):
    """A client that has 1..5 resumes (?last=5) on a server that has applied none of them yet: when
    the server catches up it sends 6, 7, 8 only; the client drops nothing because nothing came twice."""
    cluster = cluster_lab.cluster
    behind = dl.ResilientClient(cluster.server_url("B", ws=True) + "/stream/lag", after=5)
    behind.start()
    try:
        wait_for(lambda: behind.connections >= 1, timeout=10, why=lambda: behind.status, interval=0.01)
        cluster.publish("lag", *range(8), on="A")
        assert behind.wait_for(3, timeout=seconds(10)), behind
        time.sleep(0.2)  # room for anything that would come twice
        assert behind.numbers == [6, 7, 8] and behind.duplicates == 0, behind
    finally:
        behind.close()


def test_a_cluster_on_your_redis_deletes_its_log_there_and_its_log_folder_here(redis_url):
    """On a Redis you gave (a redis:// URL), closing the lab deletes the cluster's stream key there
    and removes the servers' log folder it made in /tmp; your Redis keeps running."""
    import redis

    lab = dl.Lab(servers=2, backplane=redis_url).start()
    cluster = lab.cluster
    assert cluster is not None
    logs = cluster._logs
    with redis.Redis.from_url(redis_url) as r:
        try:
            before = set(r.keys("duplexlab:*:log"))
            cluster.notify("meera", "kept until the lab closes", on="A")
            keys = list(set(r.keys("duplexlab:*:log")) - before)
            assert len(keys) == 1 and logs.is_dir()
        finally:
            lab.close()
        assert r.exists(*keys) == 0
        assert r.ping()
    assert not logs.exists()


@pytest.mark.parametrize("which", ["embedded", "redis-server"])
def test_stop_leaves_no_server_or_backplane_process_and_no_open_port(which):
    """dl.stop() after a cluster with the backplane the lab started itself: every process is gone,
    every port it listened on refuses connections."""
    if which == "redis-server" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs Debian's)")
    lab = dl.start(servers=3, backplane=which)
    cluster = lab.cluster
    assert cluster is not None and cluster.backplane is not None
    assert which.split("-")[0] in cluster.backplane.kind
    backplane_pid = cluster.backplane.pid
    assert backplane_pid is not None
    pids = [node.pid for node in cluster.nodes] + [backplane_pid]
    ports = [cluster.http.port, cluster.ws.port] + [p for node in cluster.nodes for p in (node.http_port, node.ws_port)]
    ports.append(int(cluster.backplane.url.rsplit(":", 1)[1].split("/")[0]))
    t0 = time.perf_counter()
    dl.stop()
    took = time.perf_counter() - t0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    print(f"dl.stop() with a cluster ({which}): {took:.2f} s")


def test_sticky_sessions_follow_the_query_then_the_cookie_else_take_turns():
    """The balancer's choice: ?server= first, then the dl-server cookie, only when sticky; else round robin."""
    names = ["A", "B", "C"]
    assert pick("/x?server=C", "dl-server=B", names, 0, sticky=True) == "C"
    assert pick("/x", "other=1; dl-server=B", names, 0, sticky=True) == "B"
    assert pick("/x?server=Z", "", names, 4, sticky=True) == "B"  # unknown: take the turn
    assert pick("/x?server=C", "dl-server=B", names, 0, sticky=False) == "A"


def long_poll(cluster, after: int, *, news_on: str = "A") -> tuple[str, list[str], int]:
    """One poll of a page that names server ``news_on`` (``?server=``), on a new connection through the
    balancer, with a notification made on ``news_on`` 0.2 s into it. Returns (the server that answered,
    the texts it got, the page's next ``after``)."""
    made = threading.Timer(0.2, cluster.notify, ("ravi", f"after {after}"), {"on": news_on})
    made.start()
    try:
        with dl.Client(cluster.url) as page:
            reply = page.get(
                "/api/users/ravi/notifications/wait", params={"after": after, "timeout": 1, "server": news_on}
            )
    finally:
        made.join()
    body = reply.json()
    return reply.headers["X-Duplexlab-Server"], [n["text"] for n in body["notifications"]], body["last_id"]


@pytest.mark.parametrize("cluster_lab", ["none"], indirect=True)
def test_without_a_backplane_a_long_poll_hears_its_servers_news_only_when_sticky(cluster_lab):
    """No backplane, news made on A, a page naming A (?server=A), each poll a new connection through
    the balancer: sticky, every poll is held on A and answered by its news; round robin, the polls
    that land on B and C hold their full second for nothing and A's news waits for a poll on A."""
    cluster = cluster_lab.cluster
    cluster.sticky = True
    after, sticky = 0, []
    for _ in range(3):
        asked = after
        server, texts, after = long_poll(cluster, asked)
        sticky.append((server, texts == [f"after {asked}"]))  # its own news, made while it was held
    assert sticky == [("A", True)] * 3, sticky
    cluster.sticky = False
    polls = []
    for _ in range(3):
        t0 = time.perf_counter()
        server, texts, after = long_poll(cluster, after)
        polls.append((server, texts, time.perf_counter() - t0))
    assert sorted(server for server, _, _ in polls) == ["A", "B", "C"]  # round robin: one poll each
    for server, texts, took in polls:
        if server != "A":
            assert texts == [] and took >= 0.9, polls  # held for nothing: B and C never hear of A's news
        else:
            assert texts, polls


@pytest.mark.parametrize("cluster_lab", ["embedded"], indirect=True)
def test_a_sticky_long_poll_stays_on_its_server_and_every_server_answers_with_a_backplane(cluster_lab):
    """With sticky on, ?server=B lands every request on B (the X-Duplexlab-Server header says so);
    with a backplane and round robin, a poll held on any server is answered by news made on A."""
    cluster = cluster_lab.cluster
    cluster.sticky = True
    fresh = [dl.Client(cluster.url) for _ in range(6)]  # six connections: round robin would spread them
    try:
        answered = {c.get("/api/health", params={"server": "B"}).headers["X-Duplexlab-Server"] for c in fresh}
    finally:
        for c in fresh:
            c.close()
    assert answered == {"B"}
    cluster.sticky = False
    after, polls = 0, []
    for _ in range(3):
        asked = after
        server, texts, after = long_poll(cluster, asked)
        polls.append((server, texts == [f"after {asked}"]))
    assert sorted(polls) == [("A", True), ("B", True), ("C", True)], polls


@pytest.mark.parametrize("cluster_lab", ["embedded"], indirect=True)
def test_a_dead_backplane_is_said_not_hidden(cluster_lab):
    """Kill the backplane: making a notification fails with the server's name and the reason, and
    every server's stats say the backplane is unreachable."""
    cluster = cluster_lab.cluster
    assert cluster.backplane is not None and cluster.backplane.process is not None
    cluster.backplane.process.kill()
    cluster.backplane.process.wait(5)
    with pytest.raises(ValueError, match="server A: .*(Connection|Error)"):
        cluster.notify("meera", "into the void", on="A")
    wait_for(
        lambda: all(s["backplane_error"] for s in cluster.stats().values()),
        timeout=10,
        why=cluster.stats,
        interval=0.2,
    )


@pytest.mark.parametrize("cluster_lab", BACKPLANES, indirect=True)
def test_an_event_stream_cut_from_one_server_resumes_on_another_by_its_last_event_id(cluster_lab):
    """SSE ids come from the backplane's log: a page that read 3 events from A and reconnects to B
    with Last-Event-ID gets the other 3, none twice; without a shared log B's ids would mean other news."""
    cluster = cluster_lab.cluster
    for i in range(6):
        cluster.notify("sse", f"event {i}", on="ABC"[i % 3])
    wait_for(lambda: min(s["notifications"] for s in cluster.stats().values()) >= 6, why=cluster.stats, interval=0.05)
    with dl.Client(cluster.server_url("A")) as on_a, dl.Client(cluster.server_url("B")) as on_b:
        first = on_a.events("/api/users/sse/events", count=3, timeout=5)
        rest = on_b.events("/api/users/sse/events", count=3, timeout=5, last_event_id=first[-1].event.id)
    texts = [e.json()["text"] for e in first + rest]
    assert texts == [f"event {i}" for i in range(6)]


@pytest.mark.parametrize("which", ["embedded", "redis-server"])
def test_a_killed_lab_takes_its_servers_and_backplane_with_it(which, tmp_path):
    """A kernel restart kills the lab's process outright (SIGKILL): its server processes and the
    backplane (redis-server included, through its supervisor) stop by themselves, ports closed."""
    if which == "redis-server" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs Debian's)")
    script = (
        "import json, sys, time, duplexlab as dl\n"
        f"lab = dl.start(servers=2, backplane={which!r})\n"
        "c = lab.cluster\n"
        "port = int(c.backplane.url.rsplit(':', 1)[1].split('/')[0])\n"
        "print(json.dumps({'ports': [c.ws.port, port] + [n.ws_port for n in c.nodes]}), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ports = json.loads(proc.stdout.readline())["ports"]
    proc.kill()
    proc.wait(5)
    proc.stdout.close()

    def holders() -> str:
        held = [p for p in ports[1:] if accepts(p, timeout=0.5)]
        listing = [
            subprocess.run(["ss", "-ltnp", f"sport = :{p}"], capture_output=True, text=True).stdout for p in held
        ]
        return f"ports {held} (of {ports}) still open after the lab was killed:\n" + "".join(listing)

    wait_for(lambda: not any(accepts(p, timeout=0.5) for p in ports[1:]), timeout=10, why=holders, interval=0.1)


# Run as `nobody` by the test below: every /proc/<pid>/cmdline and environ it can read, searched for
# the backplane's secrets; then the backplane itself, asked without AUTH.
NOBODY_PROBE = r"""
import json, os, socket, sys
port, secrets = int(sys.argv[1]), sys.stdin.read().split()  # on stdin: our own command line shows no secret
found = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            found += [[pid, part, s[:4] + "…"] for s in secrets if s.encode() in data]
answers = b""
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.settimeout(1)
    s.sendall(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
    try:
        while answers.count(b"\r\n") < 2 and (data := s.recv(4096)):
            answers += data
    except OSError:
        pass
print(json.dumps({"found": found, "answers": answers.decode("latin-1")}))
"""


def _as_nobody(code: str, *args: str, stdin: str = "") -> dict:
    """Run ``code`` as the unprivileged user nobody (a stranger on this machine), ``stdin`` on its standard
    input; its last line, as JSON."""
    from duplexlab.apps.sandbox import nobody_python

    python, runuser = nobody_python(), shutil.which("runuser")
    if os.geteuid() != 0 or python is None or runuser is None:
        pytest.skip("needs root, runuser and a Python that nobody may run")
    ran = subprocess.run(
        [runuser, "-u", "nobody", "--", python, "-I", "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=seconds(60),
        cwd="/tmp",
        env={"PATH": os.defpath, "LANG": "C.UTF-8"},
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.splitlines()[-1])


@pytest.mark.parametrize("which", ["embedded", "redis-server"])
def test_another_local_user_reads_no_backplane_secret_and_cannot_use_it_without_auth(which):
    """As `nobody`, another user of this machine: no process's command line or environment shows the
    backplane's password or the cluster's key prefix, and the backplane answers PING and KEYS with
    NOAUTH, never PONG or a key."""
    if which == "redis-server" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs Debian's)")
    from urllib.parse import urlsplit

    lab = dl.Lab(servers=3, backplane=which).start()
    try:
        cluster = lab.cluster
        assert cluster is not None and cluster.backplane is not None
        parts = urlsplit(cluster.backplane.url)
        assert parts.password and parts.port
        prefix = cluster._key.rsplit(":", 1)[0]
        seen = _as_nobody(NOBODY_PROBE, str(parts.port), stdin=f"{parts.password} {prefix}")
        cluster.notify("meera", "still working", on="A")  # the cluster itself still uses it
    finally:
        lab.close()
    assert seen["found"] == [], seen
    assert "PONG" not in seen["answers"] and "log" not in seen["answers"], seen
    assert seen["answers"].startswith("-NOAUTH"), seen


@pytest.mark.parametrize("cluster_lab", ["embedded"], indirect=True)
def test_malformed_log_entries_are_skipped_and_reported_and_the_log_goes_on(cluster_lab):
    """Entries that are not the log's schema (a list, a string, an object without an op, 1 MB of
    text) are skipped by every server, counted in stats() and the cluster's description; the next
    notification still reaches a socket on each of the three servers."""
    import redis

    cluster = cluster_lab.cluster
    devices = [cluster_lab.connect("/notifications/meera", base_url=cluster.server_url(n, ws=True)) for n in "ABC"]
    for device in devices:
        assert json.loads(device.recv(timeout=seconds(5)))["type"] == "subscribed"
    huge = json.dumps({"op": "notify", "user": "meera", "text": "x" * 1_000_000})
    with redis.Redis.from_url(cluster.backplane.url) as r:
        for bad in ("[1]", '"x"', "{}", huge):
            r.xadd(cluster._key, {"e": bad})
    cluster.notify("meera", "after the bad ones", on="A")
    for device in devices:
        assert json.loads(device.recv(timeout=seconds(10)))["text"] == "after the bad ones"
    wait_for(lambda: all(s["skipped"] == 4 for s in cluster.stats().values()), why=cluster.stats)
    for stats in cluster.stats().values():
        assert "skipped 4 malformed log entries" in stats["backplane_error"], stats
    assert "skipped 4 malformed log entries" in cluster.describe()


def test_the_servers_logs_go_with_the_cluster_unless_one_ended_badly(caplog):
    """A server's warnings in its log do not keep the folder in /tmp once the lab closes (a day of classes
    left a hundred); a server that died: the error quotes its log's last lines, and at close the folder
    stays and a warning says where."""
    lab = dl.Lab(servers=2, backplane=None).start()
    assert lab.cluster is not None
    logs = lab.cluster._logs
    with open(lab.cluster.nodes[0].log, "a") as log:
        log.write("backplane: ConnectionError; trying again\n")  # what a server writes when Redis goes
    lab.close()
    assert not logs.exists()

    lab = dl.Lab(servers=2, backplane=None).start()
    cluster = lab.cluster
    assert cluster is not None
    logs, b = cluster._logs, cluster.nodes[1]
    try:
        with open(b.log, "a") as log:
            log.write("the last thing B said\n")
        b.process.kill()
        b.process.wait(seconds(5))
        with pytest.raises(ClusterError, match="server B has stopped .*it ends: the last thing B said"):
            b.command("stats")
        with caplog.at_level(logging.WARNING, logger="duplexlab.cluster"):
            lab.close()
        assert logs.is_dir()
        assert f"cluster server B (exit code -9) ended badly; its log is kept in {logs}" in caplog.text
    finally:
        lab.close()
        shutil.rmtree(logs, ignore_errors=True)


@pytest.mark.parametrize("cluster_lab", ["none"], indirect=True)
@pytest.mark.load
def test_a_flood_on_the_balancer_leaves_the_lab_answering_and_its_log_short(cluster_lab):
    """12,000 event-stream requests through the cluster's balancer, from another process: the
    balancer holds what the lab's connection gate allows it and refuses the rest with 503, so the
    lab's own /api/health answers within 0.5 s and the log holds at most 20 lines."""
    import logging

    cluster = cluster_lab.cluster
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep(logging.WARNING)
    logging.getLogger().addHandler(keep)
    request = f"GET /api/users/flood/events HTTP/1.1\\r\\nHost: 127.0.0.1:{cluster.http.port}\\r\\n\\r\\n"
    flood = subprocess.Popen(
        [sys.executable, "-c", FLOOD, "127.0.0.1", str(cluster.http.port), "12000", request],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert flood.stdout is not None
        opened = json.loads(flood.stdout.readline())
        with cluster_lab.client() as mine:
            t0 = time.perf_counter()
            health = mine.get("/api/health", check=False)
            took = time.perf_counter() - t0
        print(f"flood: {opened}; the lab's /api/health answered {health.status} in {took * 1000:.0f} ms")
        assert health.status == 200 and took < seconds(0.5), (health.status, took)
    finally:
        flood.kill()
        flood.wait(seconds(10))
        logging.getLogger().removeHandler(keep)
    logs = [line for f in cluster._logs.glob("*.log") for line in f.read_text(errors="replace").splitlines()]
    assert len(lines) + len(logs) <= 20, (len(lines), lines[:5], len(logs), logs[:5])


def test_every_server_sets_the_sticky_cookie_it_is_named_in():
    """The dl-server cookie reaches the client (aiohttp 3.14 has made response.cookies into headers before
    on_response_prepare, so a cookie set there was never sent)."""
    lab = dl.Lab(servers=2, backplane=None).start()
    try:
        assert lab.cluster is not None
        for name in ("A", "B"):
            with dl.Client(lab.cluster.server_url(name)) as client:
                cookie = client.get("/api/health").headers.get("Set-Cookie", "")
            assert cookie.startswith(f"dl-server={name};") and "HttpOnly" in cookie, cookie
    finally:
        lab.close()


@pytest.mark.parametrize("cluster_lab", BACKPLANES, indirect=True)
def test_socket_io_rooms_span_servers_on_the_backplane_and_polling_needs_sticky_sessions(cluster_lab):
    """Lesson 10's deep dive: python-socketio's Redis manager on the backplane carries a room's message
    from A to B; a long-polling client behind round robin gets 400 "Invalid session" from the server
    that does not hold its session, and works when sticky."""
    cluster = cluster_lab.cluster
    cluster.socketio()
    on_a = cluster_lab.socketio_client(base_url=cluster.server_url("A"), name="asha")
    on_b = cluster_lab.socketio_client(base_url=cluster.server_url("B"), name="ravi")
    on_c = cluster_lab.socketio_client(base_url=cluster.server_url("C"), name="meera")
    for client in (on_a, on_b):
        assert client.call("join", "match")["ok"] is True
    t0 = time.perf_counter()
    assert on_a.call("chat", {"text": "A to B", "room": "match"})["ok"] is True
    assert on_b.wait_for("chat", after=t0, timeout=5).data == {"from": "asha", "text": "A to B", "room": "match"}
    time.sleep(0.3)
    assert [d for d in on_c.received("chat") if d["room"] == "match"] == [], "C's client is not in the room"

    tap = cluster_lab.tap(cluster.url)
    cluster.sticky = False
    with pytest.raises(dl.DuplexLabError, match="could not connect"):
        cluster_lab.socketio_client(base_url=tap.url, name="kabir", transports=["polling"], timeout=2)
    refused = [m for m in tap.capture().http_messages() if m.status == 400]
    assert refused and b"Invalid session" in refused[0].body, tap.transcript()
    cluster.sticky = True
    kabir = cluster_lab.socketio_client(base_url=cluster.url, name="kabir", transports=["polling"])
    assert [kabir.call("echo", i) for i in range(5)] == list(range(5))
