"""Several real server processes behind the lab's balancer, with no backplane, the embedded one and a real Redis."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time

import pytest

import duplexlab as dl
from duplexlab.cluster.balancer import pick

from .conftest import free_port, seconds


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
    deadline = time.monotonic() + seconds(10)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(5)


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
            deadline = time.monotonic() + seconds(10)
            while follower.connections <= batch or tap.open_connections < 1:  # back, on the next server
                assert time.monotonic() < deadline, follower.status
                time.sleep(0.005)
            cluster.publish("scores", *range(batch * 100, batch * 100 + 100), on=batch % 3)
            time.sleep(0.005)
            assert tap.cut() == 1
        assert follower.wait_for(10_000, timeout=seconds(60)), f"{len(follower.received)} of 10,000"
        seqs = [seq for seq, _, _ in follower.received]
        assert seqs == list(range(1, 10_001))
        assert [data for _, data, _ in follower.received] == list(range(10_000))
        assert follower.missing == [] and follower.gaps == []
        deadline = time.monotonic() + seconds(10)
        while follower.connections < 101:  # the last cut's reconnection
            assert time.monotonic() < deadline, follower.status
            time.sleep(0.01)
        assert min(cluster.ws.assigned[name] for name in "ABC") >= 30  # every server took reconnections
    finally:
        follower.close()


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
    pids = [node.pid for node in cluster.nodes] + [cluster.backplane.pid]
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


@pytest.mark.parametrize("cluster_lab", ["embedded"], indirect=True)
def test_a_sticky_long_poll_stays_on_its_server_and_every_server_answers_with_a_backplane(cluster_lab):
    """With sticky on, ?server=B lands every request on B (the X-Duplexlab-Server header says so);
    a long poll held on C is answered by a notification made on A."""
    cluster = cluster_lab.cluster
    cluster.sticky = True
    client = dl.Client(cluster.url)
    try:
        fresh = [dl.Client(cluster.url) for _ in range(6)]  # six connections: round robin would spread them
        try:
            answered = {c.get("/api/health", params={"server": "B"}).headers["X-Duplexlab-Server"] for c in fresh}
        finally:
            for c in fresh:
                c.close()
        assert answered == {"B"}

        async def held_on_c():
            async with dl.AsyncClient(cluster.server_url("C")) as c:
                return await c.get("/api/users/ravi/notifications/wait", params={"after": 0, "timeout": 5})

        async def both():
            waiting = asyncio.ensure_future(held_on_c())
            await asyncio.sleep(0.3)
            await asyncio.get_running_loop().run_in_executor(None, lambda: cluster.notify("ravi", "from A", on="A"))
            return await waiting

        reply = asyncio.run(both())
        assert [n["text"] for n in reply.json()["notifications"]] == ["from A"]
        assert reply.headers["X-Duplexlab-Server"] == "C"
    finally:
        client.close()


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
    deadline = time.monotonic() + seconds(10)
    while not all(s["backplane_error"] for s in cluster.stats().values()):
        assert time.monotonic() < deadline, cluster.stats()
        time.sleep(0.2)


@pytest.mark.parametrize("cluster_lab", BACKPLANES, indirect=True)
def test_an_event_stream_cut_from_one_server_resumes_on_another_by_its_last_event_id(cluster_lab):
    """SSE ids come from the backplane's log: a page that read 3 events from A and reconnects to B
    with Last-Event-ID gets the other 3, none twice; without a shared log B's ids would mean other news."""
    cluster = cluster_lab.cluster
    for i in range(6):
        cluster.notify("sse", f"event {i}", on="ABC"[i % 3])
    deadline = time.monotonic() + seconds(5)
    while min(s["notifications"] for s in cluster.stats().values()) < 6:
        assert time.monotonic() < deadline
        time.sleep(0.05)
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
    deadline = time.monotonic() + seconds(10)
    for port in ports[1:]:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                break
            assert time.monotonic() < deadline, f"port {port} still open after the lab was killed"
            time.sleep(0.1)
