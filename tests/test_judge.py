"""The code judge: real child processes, a time limit, clear errors."""

import time

import pytest

from .helpers import seconds, wait_for

pytestmark = pytest.mark.process  # the judge runs each submission in a child process


def submit(client, **body):
    return client.post("/api/judge/submissions", json=body)


def test_submission_is_accepted_at_once_then_judged(lab):
    """POST answers 202 with a poll URL before the code runs; polling ends with the output."""
    client = lab.client()
    reply = submit(client, code="print(6 * 7)", queue_delay=0.3)
    assert reply.status == 202 and reply.headers["Location"] == reply.json()["poll"]
    assert reply.json()["status"] == "queued"
    run = client.poll(reply.json()["poll"], interval=0.05)
    done = run.done.json()
    assert (done["verdict"], done["output"]) == ("ok", "42\n")
    assert done["t_ready"] - done["t_submitted"] >= 0.3
    assert run.wasted >= 3


def test_infinite_loop_is_stopped_at_the_limit_and_the_next_one_works(lab):
    """`while True: pass` ends as time-limit at the limit; a second submission still succeeds."""
    client = lab.client()
    t0 = time.perf_counter()
    looping = submit(client, code="while True: pass", time_limit=0.5).json()
    done = client.poll(looping["poll"], interval=0.05).done.json()
    assert done["verdict"] == "time-limit" and "0.5 s" in done["error"]
    assert 0.5 <= done["run_seconds"] < 0.5 + seconds(1)
    assert time.perf_counter() - t0 < seconds(3)
    after = submit(client, code="print('next')").json()
    assert client.poll(after["poll"], interval=0.05).done.json()["output"] == "next\n"


def test_failing_code_reports_the_error(lab):
    """Code that raises is judged 'error' with its traceback."""
    client = lab.client()
    sub = submit(client, code="1 / 0").json()
    done = client.poll(sub["poll"], interval=0.05).done.json()
    assert done["verdict"] == "runtime-error" and "ZeroDivisionError" in done["error"]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"code": ""}, 400, "'code'"),
        ({"code": 42}, 400, "'code'"),
        ({"code": "x" * 10_001}, 413, "10000"),
        ({"code": "pass", "queue_delay": -1}, 400, "queue_delay"),
        ({"code": "pass", "time_limit": "soon"}, 400, "time_limit"),
    ],
)
def test_bad_submissions_get_clear_4xx(lab, body, status, words):
    """Empty, wrong-typed, huge, and out-of-range submissions get a 4xx that names the field."""
    reply = lab.client(check=False).post("/api/judge/submissions", json=body)
    assert reply.status == status and words in reply.json()["error"]


def test_huge_body_and_unknown_id(lab):
    """A body over the limit gets 413; an unknown id gets 404 with a hint; the judge goes on."""
    client = lab.client(check=False)
    huge = client.post(
        "/api/judge/submissions", data=b"{" + b" " * 100_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert huge.status == 413
    missing = client.get("/api/judge/submissions/77")
    assert missing.status == 404 and "POST /api/judge/submissions" in missing.json()["hint"]
    ok = client.post("/api/judge/submissions", json={"code": "pass"})
    assert ok.status == 202


def test_closing_the_lab_kills_running_code(lab):
    """Stopping the lab while code runs kills the child process (nothing left behind)."""
    import os

    client = lab.client()
    sub = submit(client, code="import time; time.sleep(60)", time_limit=10).json()
    wait_for(lambda: client.get(sub["poll"]).json()["status"] == "running")

    def children() -> set[str]:  # "running" comes before the process: the folder is made on a worker thread
        mine = set()
        for p in os.listdir("/proc"):
            try:
                if p.isdigit() and open(f"/proc/{p}/stat").read().split()[3] == str(os.getpid()):
                    mine.add(p)
            except FileNotFoundError:
                pass  # a process of this busy machine that ended meanwhile
        return mine

    wait_for(children, why=lambda: "no child process of the lab's")
    running = children()
    lab.close()

    def gone(pid: str) -> bool:
        try:
            return "Z" in open(f"/proc/{pid}/stat").read().split()[2]  # dead, waiting to be reaped
        except FileNotFoundError:
            return True

    wait_for(  # a killed process may still be tearing down (state D)
        lambda: all(gone(pid) for pid in running),
        timeout=2,
        why=lambda: [open(f"/proc/{p}/stat").read() for p in running if not gone(p)],
    )


def test_ready_after_publishes_the_result_at_the_chosen_moment(lab):
    """With ready_after the result turns 'done' no earlier than that, and within a few ms of it."""
    client = lab.client()
    sub = submit(client, code="print(1)", ready_after=0.4).json()
    done = client.poll(sub["poll"], interval=0.02).done.json()
    assert 0.4 <= done["t_ready"] - done["t_submitted"] < 0.4 + seconds(0.05)
    assert done["run_seconds"] < done["t_ready"] - done["t_submitted"]
