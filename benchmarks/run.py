"""duplexlab's benchmarks: the course's measurements, headless; a table and JSON.

    python benchmarks/run.py                 # everything (about 5 minutes)
    python benchmarks/run.py --quick         # fewer repetitions, no notebooks
    python benchmarks/run.py --only-browser  # each notebook's Run All in JupyterLab, Chromium
    python benchmarks/run.py --only-sequence # the live sequence diagram's cost in a kernel
    python benchmarks/run.py --only-cluster  # lesson 8: backplane delay, throughput, polling vs push CPU

Writes benchmarks/results.json (not committed). Every figure is measured in
this one run on this machine, and ratios compare measurements made side by
side (interleaved rounds), so they compare like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect as ws_connect

import duplexlab as dl
from duplexlab.experiments.arena import Arena
from duplexlab.experiments.polling import measure_polling
from duplexlab.measure import percentile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAYLOAD = b"x" * 64


# -- round trips ----------------------------------------------------------------------------


async def _tcp_rtts(port: int, n: int) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        writer.write(PAYLOAD)
        await reader.readexactly(len(PAYLOAD))
        out.append(time.perf_counter() - t)
    writer.close()
    return out


async def _ws_rtts(url: str, n: int) -> list[float]:
    async with ws_connect(url, proxy=None, compression=None) as ws:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            await ws.send(PAYLOAD.decode())
            await ws.recv()
            out.append(time.perf_counter() - t)
    return out


def echo_round_trips(n: int, rounds: int) -> dict:
    """Raw TCP echo, a bare websockets echo, the lab's /echo, and the lab's /echo through the tap.

    The bare websockets server runs on a thread of its own (``dl.WebSocketServer``),
    as a student's own server would; the raw TCP echo, the lab and the tap on the
    lab's loop thread; the client on this thread. Measured in interleaved rounds;
    each figure is the median over all rounds.
    """

    async def start_raw():
        async def echo(reader, writer):
            while data := await reader.read(65536):
                writer.write(data)

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        return server, server.sockets[0].getsockname()[1]

    async def bare_echo(ws):
        async for message in ws:
            await ws.send(message)

    samples: dict[str, list[float]] = {"tcp": [], "bare_ws": [], "lab_ws": [], "lab_ws_tap": []}
    with dl.Lab() as lab, dl.WebSocketServer(bare_echo) as bare:
        raw_server, raw_port = lab.run(start_raw())
        tap = lab.tap(lab.ws_url)
        targets = {
            "tcp": lambda: _tcp_rtts(raw_port, n),
            "bare_ws": lambda: _ws_rtts(f"{bare.url}/", n),
            "lab_ws": lambda: _ws_rtts(f"{lab.ws_url}/echo", n),
            "lab_ws_tap": lambda: _ws_rtts(f"{tap.url}/echo", n),
        }
        for _ in range(rounds):
            for name, run in targets.items():
                samples[name] += asyncio.run(run())[n // 10 :]  # drop each round's warm-up

        async def stop():
            raw_server.close()

        lab.run(stop())
    med = {k: statistics.median(v) * 1e6 for k, v in samples.items()}
    return {
        "tcp_echo_us": med["tcp"],
        "bare_ws_echo_us": med["bare_ws"],
        "lab_ws_echo_us": med["lab_ws"],
        "lab_ws_tap_echo_us": med["lab_ws_tap"],
        "ws_echo_ratio": med["lab_ws"] / med["bare_ws"],
        "tap_ratio": med["lab_ws_tap"] / med["bare_ws"],
    }


def pinned_and_unpinned(n: int, rounds: int) -> dict:
    """The round trips twice, each in a fresh process: pinned to one CPU, then free to move.

    On a 2-vCPU machine a thread woken on the other core costs ~100 µs, more than
    what is measured; pinned, every thread shares one core and the ratios compare
    the code, not the scheduler's placement. Both are reported side by side.
    """
    out = {}
    for mode in ("pinned", "unpinned"):
        child = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child-echo",
                mode,
                "--n",
                str(n),
                "--rounds",
                str(rounds),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        out[mode] = json.loads(child.stdout.strip().splitlines()[-1])
    return {"echo": out}


def _child_echo(mode: str, n: int, rounds: int) -> None:
    if mode == "pinned":
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})  # before any thread starts: every thread inherits it
    print(json.dumps({"cpus": sorted(os.sched_getaffinity(0)), **echo_round_trips(n, rounds)}))


def socketio_wires(n: int) -> dict:
    """Lesson 10: the same ``n`` messages as a plain WebSocket, Socket.IO over a WebSocket and Socket.IO
    over long polling (``dl.experiments.compare_wires``), in one run, in a fresh process pinned to one CPU."""
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-socketio", "--n", str(n)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return {"socketio": json.loads(child.stdout.strip().splitlines()[-1])}


def _child_socketio(n: int) -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before any thread starts
    import duplexlab as dl

    with dl.Lab() as lab:
        result = dl.experiments.compare_wires(lab, messages=n, text="hello, class")
    print(
        json.dumps(
            {
                "messages": n,
                "text_bytes": len(result.text.encode()),
                "ways": {
                    w.name: {"bytes": w.bytes_per_message, "requests": w.requests_per_message, "rtt_us": w.rtt_us}
                    for w in result.wires
                },
            }
        )
    )


# the kernel side of sequence_widget(): runs in a real ipykernel, prints one JSON line
SEQUENCE_KERNEL_CODE = r"""
import asyncio, json, os, statistics, threading, time
import duplexlab as dl
from websockets.asyncio.client import connect

lab = dl.start()

async def _bare_echo(ws):
    async for message in ws:
        await ws.send(message)

bare = dl.WebSocketServer(_bare_echo).start()
plain_tap = lab.tap(lab.ws_url)
shown_tap = lab.tap(lab.ws_url)
seq = shown_tap.show()
display(seq)

def in_thread(make):  # the client on a thread and loop of its own, like the benchmark's client
    out = []
    t = threading.Thread(target=lambda: out.append(asyncio.run(make())))
    t.start(); t.join()
    return out[0]

async def rtts(url, n):
    async with connect(url, proxy=None, compression=None) as ws:
        out = []
        for _ in range(n):
            t = time.perf_counter(); await ws.send("x" * 64); await ws.recv()
            out.append(time.perf_counter() - t)
        return out[n // 10:]

async def paced(url, seconds, per_second):
    async with connect(url, proxy=None, compression=None) as ws:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            await ws.send("x" * 64); await ws.recv(); n += 1
            await asyncio.sleep(max(0, t0 + n / per_second - time.perf_counter()))
        return n, time.perf_counter() - t0

samples = {"bare": [], "plain": [], "shown": []}
urls = {"bare": bare.url + "/", "plain": plain_tap.url + "/echo", "shown": shown_tap.url + "/echo"}
for _ in range(ROUNDS):
    for name, url in urls.items():
        samples[name] += in_thread(lambda: rtts(url, N))
med = {k: statistics.median(v) * 1e6 for k, v in samples.items()}

cpu = {"plain": [], "shown": []}
events = updates = 0
t_paced = 0.0
for _ in range(3):
    for name in ("plain", "shown"):
        seq.sync(); time.sleep(0.2)  # nothing left over from the last phase
        c0, u0 = time.process_time(), seq.updates
        n, wall = in_thread(lambda: paced(urls[name], SECONDS, RATE / 2))
        cpu[name].append((time.process_time() - c0) / wall)
        if name == "shown":
            events += 2 * n
            t_paced += wall
            updates += seq.updates - u0
seq.sync()
print(json.dumps({
    "cpus": sorted(os.sched_getaffinity(0)),
    "bare_us": med["bare"], "plain_tap_us": med["plain"], "shown_tap_us": med["shown"],
    "plain_tap_ratio": med["plain"] / med["bare"], "shown_tap_ratio": med["shown"] / med["bare"],
    "events_per_s": events / t_paced,
    "cpu_plain": statistics.median(cpu["plain"]), "cpu_shown": statistics.median(cpu["shown"]),
    "updates": updates, "paced_seconds": t_paced, "cell_seconds": time.perf_counter() - T_CELL,
    "earlier": seq.earlier, "skipped": seq.skipped,
}))
bare.close()
dl.stop()
"""


def sequence_widget(n: int, rounds: int, seconds: float = 2.0, rate: int = 1000) -> dict:
    """The live sequence diagram's cost, in a real kernel whose comm messages are read.

    A child process pinned to one CPU starts an ipykernel (which inherits the
    pinning) and reads its iopub channel, as JupyterLab would. In the kernel: a
    WebSocket echo at ``rate`` frames a second through a tap with no diagram,
    then through a tap whose diagram is shown (interleaved, three times each);
    the kernel's CPU per second of each, and the difference (the diagram's
    share of one core). Then unpaced round trips: bare websockets, through the
    plain tap, through the shown tap.
    """
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-sequence", "--n", str(n), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
        env={**os.environ, "DUPLEXLAB_BENCH_SECONDS": str(seconds), "DUPLEXLAB_BENCH_RATE": str(rate)},
    )
    return {"sequence": json.loads(child.stdout.strip().splitlines()[-1])}


def _child_sequence(n: int, rounds: int) -> None:
    from jupyter_client.manager import start_new_kernel

    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # the kernel started below inherits it
    seconds = float(os.environ["DUPLEXLAB_BENCH_SECONDS"])
    rate = int(os.environ["DUPLEXLAB_BENCH_RATE"])
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        code = (
            f"import time\nT_CELL = time.perf_counter()\nN, ROUNDS, SECONDS, RATE = {n}, {rounds}, {seconds}, {rate}\n"
            + SEQUENCE_KERNEL_CODE
        )
        msg_id = client.execute(code)
        text, custom, bytes_sent, error = "", 0, 0, None
        while True:
            msg = client.get_iopub_msg(timeout=600)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_msg" and content["data"].get("method") == "custom":
                custom += 1
                bytes_sent += len(json.dumps(content["data"]))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if kind == "stream":
                text += content["text"]
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if error:
            raise RuntimeError(error)
        result = json.loads(text.strip().splitlines()[-1])
        result.update(comm_messages=custom, comm_bytes=bytes_sent)
        print(json.dumps(result))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def stop_times() -> dict:
    """How long dl.stop() takes with 20 chat sockets full of unread messages, and with 1,000 idle sockets."""
    lab = dl.start()
    sockets = [lab.connect(f"/chat?name=reader{i}") for i in range(20)]
    witness = lab.connect("/chat?name=witness")
    talkers = [lab.connect(f"/chat?name=talker{i}") for i in range(5)]
    for k in range(10):
        for talker in talkers:
            talker.send(json.dumps({"type": "message", "text": f"message {k}"}))
    said = 0
    while said < 50:
        said += json.loads(witness.recv(timeout=5))["type"] == "message"
    t0 = time.perf_counter()
    dl.stop()
    chat = time.perf_counter() - t0
    assert all(ws.state.name == "CLOSED" for ws in sockets)

    lab = dl.start()
    crowd = _crowd("idle", lab.ws_url, 1000)
    t0 = time.perf_counter()
    dl.stop()
    idle = time.perf_counter() - t0
    crowd.kill()
    crowd.communicate(timeout=30)
    return {"stop_chat_unread_s": chat, "stop_idle_1000_s": idle}


def cross_thread_notify(rounds: int = 20) -> dict:
    """lab.notifications.add() from this (non-loop) thread until a waiting long poll and an SSE stream have it."""
    import threading

    long_poll, sse = [], []
    with dl.Lab() as lab:
        client = lab.client()
        for k in range(rounds):
            user = f"x{k}"
            after = lab.notify(user, "warm-up").id
            got: dict[str, float] = {}

            def wait(user=user, after=after, got=got) -> None:
                client.get(f"/api/users/{user}/notifications/wait", params={"after": after, "timeout": 10})
                got["lp"] = time.perf_counter()

            def stream(user=user, after=after, got=got) -> None:
                for _ in lab.client().iter_events(f"/api/users/{user}/events", last_event_id=str(after)):
                    got["sse"] = time.perf_counter()
                    break

            readers = [threading.Thread(target=wait), threading.Thread(target=stream)]
            for r in readers:
                r.start()
            time.sleep(0.2)
            t0 = time.perf_counter()
            lab.notifications.add(user, "from this thread")
            for r in readers:
                r.join(10)
            long_poll.append(got["lp"] - t0)
            sse.append(got["sse"] - t0)
    return {
        "notify_cross_thread_long_poll_ms": statistics.median(long_poll) * 1000,
        "notify_cross_thread_sse_ms": statistics.median(sse) * 1000,
    }


def http_round_trips(n: int) -> dict:
    """Keep-alive GET round trips: blocking Client, AsyncClient, and the Client through a tap."""
    with dl.Lab() as lab:
        client = lab.client()
        tap = lab.tap()
        tapped = lab.client(tap.url)
        tapped.get("/api/users/asha/notifications")
        one_get = tap.counts()
        sync, via_tap = [], []
        for _ in range(5):  # interleaved rounds
            sync += [client.get("/api/health").elapsed for _ in range(n // 5)]
            via_tap += [tapped.get("/api/health").elapsed for _ in range(n // 5)]

        async def async_rtts() -> list[float]:
            async with dl.AsyncClient(lab.url) as c:
                for _ in range(50):
                    await c.get("/api/health")
                return [(await c.get("/api/health")).elapsed for _ in range(n)]

        asyn = asyncio.run(async_rtts())
    return {
        "http_rtt_us": statistics.median(sync) * 1e6,
        "http_rtt_async_us": statistics.median(asyn) * 1e6,
        "http_rtt_tap_us": statistics.median(via_tap) * 1e6,
        "http_tap_ratio": statistics.median(via_tap) / statistics.median(sync),
        "one_get_bytes": one_get.bytes_total,
        "one_get_header_bytes": one_get.header_bytes,
    }


# -- polling and the four transports -----------------------------------------------------------


def polling_delays(students: int, rounds: int = 2) -> dict:
    """Mean detection delay at 0.1, 0.5 and 1 s, against interval/2 + half the measured round trip.

    The students run on the lab's loop, without a tap (bytes are measured elsewhere), so
    nothing but the polling itself adds to the delay; each interval is measured ``rounds``
    times and the delays pooled.
    """
    rows = {}
    with dl.Lab() as lab:
        for interval in (0.1, 0.5, 1.0):
            runs = [
                lab.run(
                    measure_polling(lab.url, interval=interval, judge_seconds=1.0, students=students, tap=False), 120
                )
                for _ in range(rounds)
            ]
            delays = [d for r in runs for d in r.delays]
            rtt = statistics.median(p.answer.elapsed for r in runs for p in r.runs)
            mean, theory = statistics.fmean(delays), interval / 2 + rtt / 2  # a clock-driven poller
            rows[str(interval)] = {
                "mean_delay_ms": mean * 1000,
                "theory_ms": theory * 1000,
                "rtt_ms": rtt * 1000,
                "error": (mean - theory) / theory,
                "polls_per_student": sum(r.requests for r in runs) / (students * rounds),
                "samples": len(delays),
            }
    return {"poll_delay": rows, "poll_delay_error": max(abs(v["error"]) for v in rows.values())}


def transports(duration: float) -> dict:
    """Delay, requests and bytes per delivered event, and server CPU, for the four transports."""
    with Arena() as arena:
        result = arena.run(rate=5, duration=duration, poll_interval=1.0, seed=2026)
    return {
        "transports": {
            name: {
                "delay_median_ms": r.delay_ms(50),
                "delay_p99_ms": r.delay_ms(99),
                "requests_per_event": r.requests_per_event,
                "bytes_per_event": r.bytes_per_event,
                "server_cpu_ms_per_s": r.cpu_per_second * 1000,
            }
            for name, r in result.results.items()
        },
        "transport_events": len(result.event_times),
    }


# -- many connections (clients in another process) ----------------------------------------------


def _crowd(mode: str, url: str, n: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "clients.py"), mode, url, str(n), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"the client process did not get ready: {line!r}")
    return proc


def broadcast(n: int, messages: int) -> dict:
    """One notification pushed to n subscribed clients (in another process), ``messages`` times."""
    with dl.Lab() as lab:
        proc = _crowd("broadcast", lab.ws_url, n, str(messages))
        time.sleep(0.5)
        for i in range(messages):
            lab.notify("crowd", f"broadcast {i}")
            time.sleep(0.15)
        out, _ = proc.communicate(timeout=120)
    deliveries = json.loads(out)
    per_message: dict[int, list[float]] = {}
    for note_id, delay in deliveries:
        per_message.setdefault(note_id, []).append(delay)
    completion = [max(v) for v in per_message.values()]
    every = [d for _, d in deliveries]
    return {
        "broadcast_clients": n,
        "broadcast_deliveries": len(every),
        f"broadcast_{n}_ms": statistics.median(completion) * 1000,
        f"broadcast_{n}_p99_ms": percentile(completion, 99) * 1000,
        "broadcast_delivery_median_ms": statistics.median(every) * 1000,
    }


def _servers_cpu(cluster) -> float:
    return sum(s["cpu"] for s in cluster.stats().values())


def backplanes(clients: int = 1000, seconds: float = 5.0, messages: int = 10_000) -> dict:
    """Lesson 8's numbers, for each backplane this machine has: the delivery delay without and with
    the backplane hop, the messages a second one backplane carries from one server to another,
    and the servers' CPU for ``clients`` pages polling once a second vs as many idle sockets
    with one push a second (both measured in the three server processes)."""
    from duplexlab.cluster.backplane import redis_server_path
    from duplexlab.experiments.cluster import delivery_delays

    out: dict = {"backplane": {}}
    with dl.Lab(servers=3, backplane=None) as lab:
        assert lab.cluster is not None
        out["cluster_direct_ms"] = delivery_delays(lab.cluster, made_on="A", page_on="A", n=50).median
    kinds = ["embedded"] + (["redis-server"] if redis_server_path() else [])
    for spec in kinds:
        with dl.Lab(servers=3, backplane=spec) as lab:
            cluster = lab.cluster
            assert cluster is not None and cluster.backplane is not None
            row: dict = {"kind": cluster.backplane.kind}
            row["hop_ms"] = delivery_delays(cluster, made_on="A", page_on="B", n=50).median

            async def follow(cluster=cluster) -> float:
                url = cluster.server_url("B", ws=True) + "/stream/bench?last=0"
                async with ws_connect(url, proxy=None, compression=None, max_queue=None) as ws:
                    await ws.recv()  # subscribed
                    loop = asyncio.get_running_loop()

                    def publish(cluster=cluster) -> None:
                        for start in range(0, messages, 500):
                            cluster.publish("bench", *range(start, start + 500), on="A")

                    t0 = time.perf_counter()
                    sender = loop.run_in_executor(None, publish)
                    got = 0
                    while got < messages:
                        if json.loads(await ws.recv()).get("type") == "message":
                            got += 1
                    await sender
                    return messages / (time.perf_counter() - t0)

            row["messages_per_s"] = asyncio.run(follow())
            if clients:  # the cost argument: the same servers, polled vs pushing
                pollers = _crowd("poll", cluster.url, clients)
                time.sleep(1.5)
                c0, t0 = _servers_cpu(cluster), time.perf_counter()
                time.sleep(seconds)
                polling = (_servers_cpu(cluster) - c0) / (time.perf_counter() - t0)
                pollers.communicate(timeout=60)
                listeners = _crowd("listen", cluster.ws_url, clients)
                time.sleep(1.0)
                c0, t0 = _servers_cpu(cluster), time.perf_counter()
                for i in range(int(seconds)):
                    cluster.notify("crowd", f"push {i}")
                    time.sleep(1.0)
                pushing = (_servers_cpu(cluster) - c0) / (time.perf_counter() - t0)
                listeners.communicate(timeout=60)
                row["cost"] = {
                    "clients": clients,
                    "polling_cpu_ms_per_s": polling * 1000,
                    "push_cpu_ms_per_s": pushing * 1000,
                    "ratio": polling / pushing if pushing else float("inf"),
                }
            out["backplane"][spec] = row
    return out


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc: the memory benchmark needs Linux")


def idle_memory(n: int) -> dict:
    """Memory growth of a fresh lab process per idle WebSocket connection (clients in a third process)."""
    server = subprocess.Popen(
        [sys.executable, str(HERE / "clients.py"), "server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        warm = _crowd("idle", url, 20)  # first connections load code and caches
        warm.communicate("", timeout=30)
        time.sleep(0.5)
        before = _rss_kib(server.pid)
        crowd = _crowd("idle", url, n)
        time.sleep(1.0)
        after = _rss_kib(server.pid)
        crowd.communicate("", timeout=60)
    finally:
        server.communicate("", timeout=30)
    return {"idle_conn_kib": (after - before) / n, "idle_connections": n}


# -- the course -------------------------------------------------------------------------------


def course_time() -> dict:
    """Run every notebook headless in a fresh kernel, as the tests do; seconds per notebook."""
    import nbformat
    from nbclient import NotebookClient

    per = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        t = time.perf_counter()
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
        per[path.name] = time.perf_counter() - t
    return {"course_seconds": sum(per.values()), "notebook_seconds": per}


def browser_run_all() -> dict:
    """Each notebook's Run All in JupyterLab in Chromium, as a teacher does it; seconds each.

    Uses the browser suite's own steps (tests/test_course_in_browser.py) on a copy
    of the notebooks; needs Debian's chromium (``bash .ci/run`` installs it).
    """
    import shutil
    import tempfile

    if shutil.which("chromium") is None:
        return {}
    sys.path.insert(0, str(ROOT))
    from tests.browser import PROJECTOR, chromium_context, jupyter_lab
    from tests.test_course_in_browser import open_in_lab, run_all

    per = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
        for name in names:
            shutil.copy(ROOT / "notebooks" / name, folder / name)
        with jupyter_lab(folder) as (base, token), chromium_context(folder, viewport=PROJECTOR) as context:
            for name in names:
                page = context.new_page()
                open_in_lab(page, base, token, name)
                per[name] = run_all(page)
                page.close()
    return {"browser_run_all_seconds": per, "browser_run_all_max": max(per.values())}


# -- report -----------------------------------------------------------------------------------


def report(r: dict) -> None:
    def row(label: str, value: str, target: str = "") -> None:
        print(f"{label:<50} {value:>16}  {target}")

    print(f"{'measurement':<50} {'value':>16}  target")
    print("-" * 90)
    pin, free = r["echo"]["pinned"], r["echo"]["unpinned"]
    row("round trips (µs)", "pinned / unpinned", f"(pinned to CPU {pin['cpus']}; unpinned on {free['cpus']})")

    def both(label: str, key: str, fmt: str, target: str = "") -> None:
        row(label, f"{format(pin[key], fmt)} / {format(free[key], fmt)}", target)

    both("raw asyncio TCP echo (loopback floor)", "tcp_echo_us", ".0f")
    both("bare websockets echo (its own thread)", "bare_ws_echo_us", ".0f")
    both("the lab's WebSocket /echo", "lab_ws_echo_us", ".0f")
    both("  lab / bare websockets", "ws_echo_ratio", ".3f", "≤ 1.10 pinned")
    both("the lab's /echo through the tap", "lab_ws_tap_echo_us", ".0f")
    both("  through the tap / bare websockets", "tap_ratio", ".3f", "≤ 1.5 pinned")
    if "sequence" in r:
        q = r["sequence"]
        row("live sequence diagram, in a kernel (pinned)", "", f"(CPU {q['cpus']})")
        row("  echo frames through the shown tap", f"{q['events_per_s']:.0f} events/s", "1,000 events/s")
        share = q["cpu_shown"] - q["cpu_plain"]
        row("  kernel CPU: plain tap / shown tap", f"{q['cpu_plain']:.1%} / {q['cpu_shown']:.1%}")
        row("  kernel CPU spent on the diagram", f"{share:.1%} of a core", "≤ 10 %")
        row("  diagram updates sent at 1,000 events/s", f"{q['updates'] / q['paced_seconds']:.1f} /s", "≤ 30 /s")
        row(
            "  comm messages read off iopub, whole run",
            f"{q['comm_messages'] / q['cell_seconds']:.1f} /s",
            f"{q['comm_bytes'] / q['cell_seconds'] / 1024:.0f} KiB/s",
        )
        row("  events let go (kept 500) / not drawn", f"{q['earlier']} / {q['skipped']}", "(counted, shown)")
        row(
            "  round trip: bare / plain tap / shown tap",
            f"{q['bare_us']:.0f} / {q['plain_tap_us']:.0f} / {q['shown_tap_us']:.0f} µs",
        )
        row("  shown tap / bare websockets", f"{q['shown_tap_ratio']:.3f}", "≤ 1.5 pinned")
        row("  plain tap / bare websockets (same run)", f"{q['plain_tap_ratio']:.3f}")
    if "socketio" in r:
        q = r["socketio"]
        row(f"one {q['text_bytes']}-byte message, {q['messages']} times (pinned)", "bytes · round trip", "(lesson 10)")
        for name, w in q["ways"].items():
            row(f"  {name}", f"{w['bytes']:.0f} B · {w['rtt_us']:.0f} µs", f"{w['requests']:g} HTTP requests/message")
    row("HTTP keep-alive GET, blocking Client", f"{r['http_rtt_us']:.0f} µs")
    row("HTTP keep-alive GET, AsyncClient", f"{r['http_rtt_async_us']:.0f} µs")
    row("HTTP GET through the tap / direct", f"{r['http_tap_ratio']:.3f}")
    row("one notifications GET + response", f"{r['one_get_bytes']} B", f"({r['one_get_header_bytes']} B headers)")
    for interval, p in r["poll_delay"].items():
        row(
            f"polling every {interval} s: mean detection delay",
            f"{p['mean_delay_ms']:.1f} ms",
            f"theory {p['theory_ms']:.1f} ms, error {p['error']:+.1%}",
        )
    row("  largest polling-delay error", f"{r['poll_delay_error']:.1%}", "within ±10 %")
    for name, t in r["transports"].items():
        row(
            f"{name}: delay median / p99",
            f"{t['delay_median_ms']:.1f} / {t['delay_p99_ms']:.1f} ms",
            f"{t['requests_per_event']:.2f} req/event, {t['bytes_per_event']:.0f} B/event, "
            f"CPU {t['server_cpu_ms_per_s']:.2f} ms/s",
        )
    row("notifications.add() from a cell's thread → long poll", f"{r['notify_cross_thread_long_poll_ms']:.2f} ms")
    row("notifications.add() from a cell's thread → SSE", f"{r['notify_cross_thread_sse_ms']:.2f} ms")
    row("dl.stop(): 20 chat sockets, 50 unread each", f"{r['stop_chat_unread_s']:.3f} s", "≤ 1 s")
    row("dl.stop(): 1,000 idle sockets (another process)", f"{r['stop_idle_1000_s']:.3f} s", "≤ 1 s")
    n = r["broadcast_clients"]
    row(f"push to {n} clients (another process): median", f"{r[f'broadcast_{n}_ms']:.1f} ms", "≤ 50 ms")
    row("  p99 (last client reached)", f"{r[f'broadcast_{n}_p99_ms']:.1f} ms")
    if "backplane" in r:
        row("cluster (3 server processes): delivery, no backplane", f"{r['cluster_direct_ms']:.2f} ms", "median")
        for b in r["backplane"].values():
            row(f"  through {b['kind']}", f"{b['hop_ms']:.2f} ms", "median, made on A, page on B")
            row("    messages/s it carries, A → B", f"{b['messages_per_s']:.0f}")
            c = b.get("cost")
            if c:
                row(f"    servers' CPU: {c['clients']} pages polling at 1 Hz", f"{c['polling_cpu_ms_per_s']:.0f} ms/s")
                row(f"    {c['clients']} idle sockets, one push a second", f"{c['push_cpu_ms_per_s']:.0f} ms/s")
                row("    polling / push", f"{c['ratio']:.1f}×")
    row(
        "memory per idle WebSocket connection",
        f"{r['idle_conn_kib']:.1f} KiB",
        f"({r['idle_connections']} connections)",
    )
    if "course_seconds" in r:
        row("all notebooks, headless", f"{r['course_seconds']:.1f} s", "(no target)")
        for name, s in r["notebook_seconds"].items():
            row(f"  {name}", f"{s:.1f} s")
    if "browser_run_all_seconds" in r:
        for name, s in r["browser_run_all_seconds"].items():
            row(f"Run All in JupyterLab (Chromium): {name}", f"{s:.1f} s", "≤ 15 s")
    row("benchmark run time", f"{r['benchmark_seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no notebooks")
    parser.add_argument("--no-notebooks", action="store_true", help="skip the course run time")
    parser.add_argument(
        "--only-browser", action="store_true", help="only each notebook's Run All in JupyterLab in Chromium"
    )
    parser.add_argument("--only-sequence", action="store_true", help="only the live sequence diagram's cost")
    parser.add_argument("--only-cluster", action="store_true", help="only lesson 8's backplane measurements")
    parser.add_argument("--child-echo", choices=("pinned", "unpinned"), help=argparse.SUPPRESS)
    parser.add_argument("--child-sequence", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-socketio", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only-socketio", action="store_true", help="only lesson 10's Socket.IO row")
    parser.add_argument("--n", type=int, default=500, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_echo:
        _child_echo(args.child_echo, args.n, args.rounds)
        return 0
    if args.child_sequence:
        _child_sequence(args.n, args.rounds)
        return 0
    if args.child_socketio:
        _child_socketio(args.n)
        return 0
    n, rounds, students = (300, 4, 20) if args.quick else (500, 16, 20)

    t0 = time.perf_counter()
    results: dict = {"python": sys.version.split()[0], "quick": args.quick}
    if args.only_browser:
        results.update(browser_run_all())
        for name, s in results.get("browser_run_all_seconds", {}).items():
            print(f"Run All in JupyterLab (Chromium): {name:<40} {s:5.1f} s  (≤ 15 s)")
        return 0
    if args.only_cluster:
        results.update(backplanes(300 if args.quick else 1000))
        print(json.dumps({k: v for k, v in results.items() if k not in ("python", "quick")}, indent=2))
        return 0
    if args.only_socketio:
        results.update(socketio_wires(200))
        print(json.dumps(results["socketio"], indent=2))
        return 0
    if args.only_sequence:
        results.update(sequence_widget(n, rounds // 2 or 1, 1.0 if args.quick else 2.0))
        print(json.dumps(results["sequence"], indent=2))
        return 0
    results.update(pinned_and_unpinned(n, rounds))
    results.update(sequence_widget(n, rounds // 2 or 1, 1.0 if args.quick else 2.0))
    results.update(socketio_wires(100 if args.quick else 200))
    results.update(http_round_trips(n))
    results.update(polling_delays(students))
    results.update(transports(3.0 if args.quick else 6.0))
    results.update(cross_thread_notify())
    results.update(stop_times())
    results.update(broadcast(1000, 10 if args.quick else 30))
    results.update(backplanes(300 if args.quick else 1000))
    results.update(idle_memory(1000))
    if not (args.quick or args.no_notebooks):
        results.update(course_time())
        results.update(browser_run_all())
    results["benchmark_seconds"] = time.perf_counter() - t0
    report(results)
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
