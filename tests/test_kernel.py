"""The lab inside a real Jupyter kernel, as a student's notebook runs it."""

from __future__ import annotations

import json

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from .helpers import seconds

pytestmark = pytest.mark.kernel


def run_cells(*sources: str) -> list[str]:
    """Execute cells in a fresh kernel; return each cell's printed text."""
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=int(seconds(120)), kernel_name="python3").execute()
    return ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]


def test_sleeping_cell_then_blocking_call_returns_within_3_s():
    """In a kernel, time.sleep(2) then a blocking call to the lab returns in under 3 s."""
    out = run_cells(
        "import time, duplexlab as dl\nlab = dl.start()\nclient = lab.client()",
        "t0 = time.perf_counter()\ntime.sleep(2)\nclient.get('/api/health')\nprint(time.perf_counter() - t0)",
    )
    assert 2.0 <= float(out[1]) < 3.0


def test_start_cell_three_times_and_twenty_cycles_leak_nothing():
    """The start cell run 3x leaves one loop thread and one server; 20 cycles leak no thread or fd."""
    start_cell = "import duplexlab as dl\nlab = dl.start()\nlab.client().get('/api/health')"
    probe = (
        "import json, os, threading\n"
        "print(json.dumps({'threads': [t.name for t in threading.enumerate() if t.name.startswith('duplexlab')],"
        " 'servers': dl.current().servers, 'fds': len(os.listdir('/proc/self/fd'))}))"
    )
    cycles = (
        "import os, threading\n"
        "dl.stop()\n"
        "before = (threading.active_count(), len(os.listdir('/proc/self/fd')))\n"
        "for _ in range(20):\n"
        "    lab = dl.start(); lab.client().get('/api/health'); lab.tap(); dl.stop()\n"
        "print(json.dumps([before, (threading.active_count(), len(os.listdir('/proc/self/fd')))]))"
    )
    out = run_cells(start_cell, start_cell, start_cell, probe, cycles)
    state = json.loads(out[3])
    assert state["threads"] == ["duplexlab-lab"]
    assert list(state["servers"]) == ["http", "websocket"]
    before, after = json.loads(out[4])
    assert after == before


def test_asyncio_run_and_top_level_await_both_work():
    """After dl.start(), asyncio.run(...) pasted from docs and top-level await both work in cells."""
    out = run_cells(
        "import asyncio, duplexlab as dl\nlab = dl.start()",
        "async def ask():\n    async with lab.async_client() as c:\n"
        "        return (await c.get('/api/health')).status\n"
        "print(asyncio.run(ask()))",
        "print(await ask())",
    )
    assert out[1].strip() == out[2].strip() == "200"
