""" "Can I reach the teacher?" in plain words, on loopback and across real network namespaces."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

import duplexlab as dl

from .helpers import free_port, wait_for


@contextmanager
def answering(status: int):
    """An HTTP server on loopback that answers every GET with ``status``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_running_lab_is_reached(lab):
    """The lab's own address: ✓ with the time it took."""
    found = dl.can_reach(lab.url)
    assert found and found.cause == "reached" and "reached the lab" in str(found)


def test_nothing_listening_is_refused_with_the_port_named():
    """A port nobody listens on: refused, wrong port or lab not running."""
    port = free_port()
    found = dl.can_reach(f"http://127.0.0.1:{port}")
    assert not found and found.cause == "refused"
    assert f"port {port}" in found.advice and "running" in found.advice


def test_a_name_that_does_not_resolve_asks_for_the_address():
    """An unknown name: type the address instead."""
    found = dl.can_reach("http://teachers-laptop.invalid:8000")
    assert found.cause == "name" and "type the teacher's address" in found.advice


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_by_the_lab_is_about_the_code_or_credential(status):
    """401/403: the lab is there; the join code or credential is wrong."""
    with answering(status) as url:
        found = dl.can_reach(url)
    assert found.cause == "denied" and found.status == status and "join code or credential" in found.advice


def test_something_that_is_not_http_is_not_a_lab():
    """A port that answers with bytes that are not HTTP: check the port."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        time.sleep(0.5)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        found = dl.can_reach(f"http://127.0.0.1:{server.getsockname()[1]}")
    finally:
        server.close()
    assert found.cause in ("not-a-lab", "error") and not found


def test_a_real_classroom_lab_says_whether_the_join_code_is_right():
    """Against a classroom lab on loopback: a wrong code is the 403 diagnosis in plain words, the right one
    (typed in lower case) is reached, and asking takes no seat."""
    lab = dl.Lab(classroom=True).start()
    assert lab.roster is not None
    try:
        wrong = dl.can_reach(lab.url, code="WRONGCODE")
        right = dl.can_reach(lab.url, code=lab.roster.code.lower())
        assert lab.roster.students == []
    finally:
        lab.close()
    assert not wrong and wrong.cause == "denied" and wrong.status == 403
    assert "join code 'WRONGCODE' is wrong" in wrong.advice and "ask the teacher for the current code" in wrong.advice
    assert right and right.cause == "reached" and "join code is right" in right.advice


def test_a_real_classroom_lab_says_whether_a_credential_still_counts():
    """A joined student's credential is reached; once the teacher removes the student it is the 401
    diagnosis (join again); a stranger's made-up credential too."""
    lab = dl.Lab(classroom=True).start()
    assert lab.roster is not None
    try:
        seat = dl.join(lab.url, lab.roster.code, name="asha")
        before = dl.can_reach(lab.url, credential=seat.credential)
        stranger = dl.can_reach(lab.url, credential="made-up")
        lab.remove_student("asha")
        after = dl.can_reach(lab.url, credential=seat.credential)
    finally:
        from duplexlab.clients import seat as seats

        seats._current = None
        lab.close()
    assert before and "your credential counts" in before.advice
    for denied in (stranger, after):
        assert not denied and denied.cause == "denied" and denied.status == 401
        assert "credential is not valid" in denied.advice and "join again" in denied.advice


def test_a_lab_not_in_classroom_mode_says_so_when_asked_about_a_code(lab):
    """A student's own (private) lab has no classroom door: the answer says how the teacher starts one."""
    found = dl.can_reach(lab.url, code="ANYCODE1")
    assert not found and found.cause == "not-a-classroom" and "classroom=True" in found.advice
    with pytest.raises(ValueError):
        dl.can_reach(lab.url, code="ANYCODE1", credential="x")


# -- across real network boundaries: namespaces joined by veth pairs, documentation addresses --

NETNS = shutil.which("ip") is not None and os.geteuid() == 0


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def network():
    """A teacher namespace (192.0.2.1) serving /api/health on port 8000; a student joined to it by a
    veth pair (192.0.2.2); a firewalled student whose answers the teacher's side throws away (192.0.2.3);
    and a student with no network at all. Deleted afterwards, even when the test fails."""
    if not NETNS:
        pytest.skip("needs root and iproute2 (bash .ci/run installs it)")
    tag = secrets.token_hex(3)
    names = {k: f"dl-{k}-{tag}" for k in ("teacher", "student", "walled", "alone")}
    made: list[str] = []
    server = None
    try:
        for name in names.values():
            ip("netns", "add", name)
            made.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        for k, (who, address) in enumerate([("student", "192.0.2.2"), ("walled", "192.0.2.3")]):
            a, b = f"dlt{k}{tag}", f"dls{k}{tag}"
            ip("link", "add", a, "type", "veth", "peer", "name", b)
            ip("link", "set", a, "netns", names["teacher"])
            ip("link", "set", b, "netns", names[who])
            ip("-n", names["teacher"], "addr", "add", "192.0.2.1/32", "dev", a)
            ip("-n", names["teacher"], "link", "set", a, "up")
            ip("-n", names["teacher"], "route", "add", f"{address}/32", "dev", a)
            ip("-n", names[who], "addr", "add", f"{address}/24", "dev", b)
            ip("-n", names[who], "link", "set", b, "up")
        # the teacher's side silently throws away what it would send to the walled student (a firewall's DROP)
        ip("-n", names["teacher"], "route", "replace", "blackhole", "192.0.2.3/32")
        code = (
            "import http.server\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()\n"
            "    def log_message(self, *a): pass\n"
            "http.server.ThreadingHTTPServer(('192.0.2.1', 8000), H).serve_forever()\n"
        )
        server = subprocess.Popen(["ip", "netns", "exec", names["teacher"], sys.executable, "-c", code])
        wait_for(
            lambda: probe(names["student"], "http://192.0.2.1:8000")["cause"] == "reached",
            timeout=10,
            why=lambda: "the teacher's server did not start",
            interval=0.1,
        )
        yield names
    finally:
        if server is not None:
            server.kill()
            server.wait(5)
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def probe(namespace: str, url: str, timeout: float = 2.0) -> dict:
    """``dl.can_reach(url)`` run from inside ``namespace`` (a student's machine)."""
    code = (
        "import json, sys, duplexlab as dl\n"
        f"r = dl.can_reach({url!r}, timeout={timeout})\n"
        "print(json.dumps({'cause': r.cause, 'advice': r.advice, 'seconds': r.seconds}))\n"
    )
    out = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.process
@pytest.mark.netns
def test_across_namespaces_each_failure_is_named_for_what_it_is(network):
    """From real separate network stacks: the student reaches the teacher; a wrong port is refused;
    a student whose packets are dropped gets "timeout → firewall or client isolation"; a student
    with no route gets "not on the same network"."""
    assert probe(network["student"], "http://192.0.2.1:8000")["cause"] == "reached"
    refused = probe(network["student"], "http://192.0.2.1:8001")
    assert refused["cause"] == "refused" and "port 8001" in refused["advice"]
    dropped = probe(network["walled"], "http://192.0.2.1:8000", timeout=1.5)
    assert dropped["cause"] == "timeout" and "firewall" in dropped["advice"] and "client isolation" in dropped["advice"]
    assert dropped["seconds"] >= 1.4
    alone = probe(network["alone"], "http://192.0.2.1:8000")
    assert alone["cause"] == "unreachable" and "not on the same network" in alone["advice"]


def _listening(pids: list[int]) -> list[str]:
    """The local addresses of every listening TCP socket the given processes hold (from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (FileNotFoundError, PermissionError):
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # LISTEN
                    address = local.split(":")[0]
                    if width == 8:
                        found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                    else:
                        found.append(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(address)))
    return found


@pytest.mark.process
@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc")
def test_with_classroom_mode_off_nothing_listens_anywhere_but_loopback():
    """A lab with everything started (servers, a tap, a 3-server cluster and its backplane): every
    listening socket of the lab's process and its children is on 127.0.0.1, none on all interfaces."""
    lab = dl.start(servers=3, backplane="embedded")
    try:
        lab.tap(lab.ws_url)
        assert lab.cluster is not None and lab.cluster.backplane is not None
        backplane_pid = lab.cluster.backplane.pid
        assert backplane_pid is not None
        pids = [os.getpid(), *(n.pid for n in lab.cluster.nodes), backplane_pid]
        addresses = _listening(pids)
        assert len(addresses) >= 2 + 1 + 2 + 6 + 1  # lab http+ws, tap, balancers, 3×(http, ws), backplane
        assert set(addresses) == {"127.0.0.1"}, addresses
    finally:
        dl.stop()
