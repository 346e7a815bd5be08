"""The judge's sandbox: hostile submissions end with a verdict, and the lab keeps serving."""

from __future__ import annotations

import os
import resource
import time

import pytest

from duplexlab.apps import sandbox

from .conftest import seconds


def judge(lab, code: str, **options) -> dict:
    """Submit ``code`` over HTTP and poll until it is judged; return the finished submission."""
    client = lab.client()
    sub = client.post("/api/judge/submissions", json={"code": code, **options}).json()
    return client.poll(sub["poll"], interval=0.05, deadline=seconds(30)).done.json()


def assert_lab_serves(lab) -> None:
    """An HTTP request and a WebSocket echo both still get answers."""
    assert lab.client().get("/api/health").json()["ok"] is True
    ws = lab.connect("/echo")
    ws.send("still here")
    assert ws.recv(timeout=seconds(5)) == "still here"
    ws.close()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_killing_the_parent_does_not_touch_the_lab(lab):
    """`os.kill(os.getppid(), 9)` hits the sandbox's own first process, never the lab."""
    done = judge(lab, "import os; os.kill(os.getppid(), 9)")
    assert done["verdict"] == "runtime-error"
    assert_lab_serves(lab)


def test_a_4_gib_allocation_is_a_memory_limit(lab):
    """Allocating 4 GiB is judged memory-limit, not ok."""
    done = judge(lab, "x = bytearray(4 * 2**30)\nprint('allocated')")
    assert done["verdict"] == "memory-limit", done
    assert "memory" in done["limits"]
    assert_lab_serves(lab)


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def test_printing_a_gigabyte_is_an_output_limit_and_costs_the_lab_little(lab):
    """1 GB printed → output-limit, and the lab's memory grows by less than 50 MiB."""
    before = rss_kib()
    done = judge(lab, "chunk = 'x' * 2**20\nfor _ in range(1024):\n    print(chunk)", time_limit=10)
    grown = (rss_kib() - before) / 1024
    assert done["verdict"] == "output-limit", done["verdict"]
    assert len(done["output"]) < 100 * 1024 and "not kept" in done["output"]
    assert grown < 50, f"the lab grew by {grown:.1f} MiB"
    assert_lab_serves(lab)


def test_endless_printing_stops_quickly_and_frees_its_slot(lab):
    """`while True: print(...)` with a 0.5 s limit ends within 1.5 s; `print(6 * 7)` then runs."""
    t0 = time.perf_counter()
    done = judge(lab, "while True:\n    print('x' * 1024)", time_limit=0.5)
    assert done["verdict"] in ("time-limit", "output-limit")
    assert time.perf_counter() - t0 < seconds(1.5)
    after = judge(lab, "print(6 * 7)")
    assert (after["verdict"], after["output"]) == ("ok", "42\n")
    assert_lab_serves(lab)


def test_a_grandchild_is_killed_with_the_submission(lab):
    """`Popen(['sleep', '60'])` + sleep: time-limit at 1 s, and the sleep is gone afterwards."""
    t0 = time.perf_counter()
    done = judge(
        lab,
        "import subprocess, time\np = subprocess.Popen(['sleep', '60'])\nprint(p.pid, flush=True)\ntime.sleep(60)",
        time_limit=1,
    )
    assert done["verdict"] == "time-limit"
    assert time.perf_counter() - t0 < seconds(3)
    grandchild = int(done["output"].split()[0])
    deadline = time.monotonic() + seconds(2)
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)
    assert_lab_serves(lab)


FORK_BOMB = """
import os, time
started = 1
try:
    while started < 300:          # stops itself: a broken sandbox fails the test, not the machine
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        started += 1
    print('not stopped', started)
except OSError as exc:
    print('stopped at', started, type(exc).__name__)
"""


def test_a_fork_bomb_stays_under_the_process_limit(lab):
    """A fork bomb is stopped by the process limit, or the test says why it can't be here."""
    enforced = sandbox.enforced_limits()["processes"]
    if enforced.startswith("not enforced"):
        pytest.skip(f"process limit on this machine: {enforced}")
    done = judge(lab, FORK_BOMB)
    words = done["output"].split()
    assert words[:2] == ["stopped", "at"], done
    assert int(words[2]) <= sandbox.Limits().processes + 1
    assert_lab_serves(lab)


def test_the_child_sees_nothing_of_the_kernels_environment(lab, monkeypatch):
    """A variable set in the lab's environment is absent in the submission's."""
    monkeypatch.setenv("DUPLEXLAB_TEST_SECRET", "hunter2")
    done = judge(lab, "import os\nprint(sorted(os.environ))\nprint(os.environ.get('DUPLEXLAB_TEST_SECRET'))")
    assert "hunter2" not in done["output"] and "DUPLEXLAB_TEST_SECRET" not in done["output"]
    assert done["output"].splitlines()[-1] == "None"


def test_the_working_directory_is_new_and_removed_afterwards(lab, tmp_path, monkeypatch):
    """The submission runs in a fresh temporary folder, not the lab's, and that folder goes."""
    monkeypatch.chdir(tmp_path)
    done = judge(
        lab, "import os\nprint(os.getcwd())\nprint(sorted(os.listdir()))\nopen('left-behind.txt', 'w').write('x')"
    )
    cwd, listing = done["output"].splitlines()
    assert cwd != str(tmp_path) and os.path.basename(cwd).startswith("duplexlab-judge-")
    assert listing == "['main.py']"
    assert not os.path.exists(cwd)
    assert os.listdir(tmp_path) == []


def test_tracebacks_name_main_py_and_verdicts_list_the_limits(lab):
    """A traceback says main.py (not a temporary path); every verdict lists the limits in force."""
    done = judge(lab, "1 / 0")
    assert 'File "main.py", line 1' in done["error"] and "/tmp" not in done["error"]
    assert set(done["limits"]) >= {"time", "memory", "processes", "output", "cpu", "files"}


def test_a_full_queue_answers_503_with_retry_after(lab):
    """With max_waiting submissions waiting, the next one gets 503 and Retry-After."""
    lab.judge.max_waiting = 2
    client = lab.client(check=False)
    for _ in range(2):
        assert client.post("/api/judge/submissions", json={"code": "pass", "queue_delay": 5}).status == 202
    full = client.post("/api/judge/submissions", json={"code": "pass"})
    assert full.status == 503 and full.headers["Retry-After"] == "1"
    assert "queued or running" in full.json()["error"]


def test_stopping_the_lab_kills_running_submissions():
    """A submission still running when the lab stops is killed, grandchildren included."""
    import duplexlab as dl

    with dl.Lab() as lab:
        client = lab.client()
        sub = client.post(
            "/api/judge/submissions",
            json={
                "code": "import subprocess, time\nsubprocess.Popen(['sleep', '61.5'])\ntime.sleep(60)",
                "time_limit": 10,
            },
        ).json()
        deadline = time.monotonic() + seconds(5)
        running: list[str] = []
        while not running and time.monotonic() < deadline:
            time.sleep(0.05)
            running = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == "sleep61.5"]
    assert running, "the submission did not start its sleep"
    deadline = time.monotonic() + seconds(2)
    while any(alive(int(p)) for p in running) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(int(p)) for p in running)
    assert sub["status"] == "queued"


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b"").decode()
    except OSError:
        return ""


def test_limits_are_set_soft_and_hard(lab):
    """The code cannot raise its own limits back: soft and hard are the same."""
    done = judge(
        lab,
        "import resource\n"
        "print(resource.getrlimit(resource.RLIMIT_AS))\n"
        "resource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
    )
    assert done["verdict"] == "runtime-error"
    limit = sandbox.Limits().memory
    assert done["output"].strip() == str((limit, limit))
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY


ESCAPE = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for path in ('/sys/fs/cgroup/pids/cgroup.procs', '/sys/fs/cgroup/cgroup.procs'):
            try:
                open(path, 'w').write(str(os.getpid()))  # try to leave the pids cgroup
            except OSError:
                pass
        time.sleep(20)
        os._exit(0)
    print(os.getpid(), flush=True)
    os._exit(0)
os.wait()
time.sleep(0.2)
"""


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="as root the judge runs code as nobody; as you, "
    "your code may act on your own processes (the README says so)",
)
def test_as_root_a_submission_cannot_reach_the_lab_or_leave_its_tree(lab, monkeypatch):
    """Run by root, code runs as nobody: it cannot read the lab's environment, signal it, lift
    its process limit, or leave a process behind after the verdict."""
    monkeypatch.setenv("DUPLEXLAB_TEST_SECRET", "hunter2")
    lab_pid = os.getpid()
    probe = judge(
        lab,
        f"""
import os, signal
print(os.getuid())
for what, act in [("environ", lambda: open('/proc/{lab_pid}/environ', 'rb').read()),
                  ("signal", lambda: os.kill({lab_pid}, 0)),
                  ("limit", lambda: open([
                      '/sys/fs/cgroup/pids' + l.split(':', 2)[2] + '/pids.max'
                      for l in open('/proc/self/cgroup') if ':pids:' in l][0], 'w').write('max'))]:
    try:
        act()
        print(what, 'allowed')
    except (OSError, IndexError) as exc:
        print(what, 'refused', type(exc).__name__)
""",
    )
    lines = probe["output"].splitlines()
    assert lines[0] == str(sandbox.NOBODY)
    assert lines[1].startswith("environ refused") and lines[2].startswith("signal refused")
    assert not lines[3].startswith("limit allowed")
    assert "hunter2" not in probe["output"]

    done = judge(lab, ESCAPE)
    middle = int(done["output"].split()[0])  # the setsid child printed its pid and left
    deadline = time.monotonic() + seconds(2)
    leftovers = lambda: [
        p
        for p in os.listdir("/proc")
        if p.isdigit() and alive(int(p)) and _cmdline(p).endswith("main.py") and int(p) != middle
    ]
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers() == []
    assert_lab_serves(lab)


def test_the_folder_is_made_and_removed_off_the_loop(monkeypatch):
    """Making the submission's folder and removing what its code wrote there run on a worker thread,
    never on the event loop's."""
    import asyncio
    import shutil
    import tempfile
    import threading

    where: dict[str, int] = {}
    make, remove = tempfile.mkdtemp, shutil.rmtree

    def mkdtemp(*args, **kwargs):
        where["made"] = threading.get_ident()
        return make(*args, **kwargs)

    def rmtree(path, *args, **kwargs):
        where["removed"] = threading.get_ident()
        return remove(path, *args, **kwargs)

    monkeypatch.setattr(sandbox.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(sandbox.shutil, "rmtree", rmtree)

    async def main():
        outcome = await sandbox.run("open('left-behind.txt', 'w').write('x'); print(6 * 7)")
        return threading.get_ident(), outcome

    loop_thread, outcome = asyncio.run(main())
    assert outcome.verdict == "ok" and outcome.output == "42\n", outcome
    assert set(where) == {"made", "removed"} and loop_thread not in where.values(), where


def test_a_run_cancelled_while_its_folder_is_made_leaves_no_folder(monkeypatch):
    """Cancelled (the lab stopping) while the worker thread still prepares: what it then makes is removed."""
    import asyncio
    import threading

    made: list[sandbox._Job] = []
    release = threading.Event()
    prepare = sandbox._prepare

    def slow_prepare(*args, **kwargs):
        release.wait(seconds(5))  # until the run has been cancelled
        made.append(prepare(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(sandbox, "_prepare", slow_prepare)

    async def main():
        run = asyncio.ensure_future(sandbox.run("print(1)"))
        await asyncio.sleep(0.05)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        release.set()

    asyncio.run(main())  # waits for the worker thread as it closes the loop's executor
    assert len(made) == 1 and not made[0].folder.exists()
    assert made[0].cgroup is None or not made[0].cgroup.exists()
