"""Every notebook runs headless in a real kernel, and none is committed with outputs."""

from __future__ import annotations

import collections
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .helpers import seconds

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
SOLUTIONS = sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]-*-solutions.ipynb"))
TEACHERS = sorted((NOTEBOOKS / "teachers").glob("*.ipynb"))


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        for kind in ("text/plain", "text/markdown"):
            if kind in out.get("data", {}):
                parts.append(out["data"][kind])
    return "".join(parts)


def run_notebook(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=int(seconds(120)),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - t0


def test_there_are_notebooks():
    """The course has its notebooks where the README says."""
    names = [p.name for p in ALL]
    for expected in (
        "00-start-here.ipynb",
        "01-one-way-api.ipynb",
        "02-polling.ipynb",
        "03-long-polling-and-sse.ipynb",
        "04-websocket-handshake.ipynb",
        "05-chat-and-notifications.ipynb",
        "06-side-by-side.ipynb",
        "07-keeping-websockets-alive.ipynb",
        "09-more-than-one-server.ipynb",
        "10-socket-io.ipynb",
    ):
        assert expected in names
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    for name in names:
        assert f"(notebooks/{name})" in readme, f"the README's lesson map does not link {name}"


@pytest.mark.parametrize("path", ALL + SOLUTIONS + TEACHERS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    """No code cell keeps outputs or an execution count in git."""
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert dirty == [], f"{path.name}: cells {dirty} keep outputs; clear them before committing"


# A code cell in JupyterLab at 150 % zoom on a 1366-pixel projector shows about 90 characters a line.
CODE_WIDTH = 90


@pytest.mark.parametrize("path", ALL + SOLUTIONS + TEACHERS, ids=lambda p: p.stem)
def test_every_code_line_fits_a_projected_cell(path):
    """No code line is wider than a cell on a projector at 150 %: nobody scrolls sideways to read it."""
    nb = json.loads(path.read_text())
    wide = [
        f"cell {i}: {len(line)} characters: {line[:50]}…"
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
        for line in "".join(c["source"]).splitlines()
        if len(line) > CODE_WIDTH
    ]
    assert wide == [], f"{path.name}: break these lines at {CODE_WIDTH} characters:\n" + "\n".join(wide)


NOT_A_NUMBER = re.compile(r"\b(nan|inf)\b", re.IGNORECASE)


def _checks(nb):
    """(cell index, printed text) of each code cell that runs an exercise check."""
    return [
        (i, _text(c))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "dl.check." in c.source and "no_sockets_left" not in c.source
    ]


def _diagrams(nb) -> list[str]:
    """The static SVGs of the sequence diagrams in a run notebook (what an exported notebook shows)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            svg = out.get("data", {}).get("image/svg+xml", "")
            svg = "".join(svg) if isinstance(svg, list) else svg
            if "duplexlab-seq-svg" in svg:
                found.append(svg)
    return found


def _labels(svg: str) -> list[str]:
    return re.findall(r'<g class="arrow [^"]*" data-id="\d+" data-label="([^"]*)"', svg)


# what each lesson's diagram is there to show, checked on the run's own static SVG
DIAGRAM_POINTS = {
    "01-one-way-api.ipynb": (
        "one response per request, nothing unasked",
        lambda svg: svg.count("kind-request") == svg.count("kind-response") >= 2 and "kind-frame" not in svg,
    ),
    "02-polling.ipynb": (
        "the same poll asked again and again",
        lambda svg: max(collections.Counter(x for x in _labels(svg) if x.startswith("GET")).values(), default=0) >= 3,
    ),
    "03-long-polling-and-sse.ipynb": (
        "a held request, and events inside one response",
        lambda svg: 'class="span held"' in svg and "kind-sse" in svg,
    ),
    "04-websocket-handshake.ipynb": (
        "the handshake, then frames both ways",
        lambda svg: "101 Switching Protocols" in svg and "kind-frame dir-up" in svg and "kind-frame dir-down" in svg,
    ),
    "05-chat-and-notifications.ipynb": (
        "frames pushed down, more than anything asked",
        lambda svg: svg.count("kind-frame dir-down") > svg.count("kind-frame dir-up") + 2,
    ),
    "07-keeping-websockets-alive.ipynb": (
        "a cut, then a reconnect that asks for what it missed",
        lambda svg: "kind-cut" in svg and any(re.search(r"\?last=\d+$", x) for x in _labels(svg)),
    ),
    "10-socket-io.ipynb": (
        "Socket.IO opens with a long poll, then upgrades to a WebSocket",
        lambda svg: "transport=polling" in svg and "101 Switching Protocols" in svg and "kind-frame" in svg,
    ),
}


@pytest.mark.kernel
@pytest.mark.parametrize("path", ALL + TEACHERS, ids=lambda p: p.stem)
def test_notebook_executes(path):
    """The notebook runs top to bottom; only cells tagged raises-exception may raise; it holds no
    solution, and each exercise's untouched stub gets a friendly "not attempted yet", never ✗."""
    nb, took = run_notebook(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if "raises-exception" in tags:
            assert errors, f"{path.name} cell {i} is tagged raises-exception but raised nothing"
        assert "solution" not in tags, f"{path.name} cell {i} is a solution: it belongs in notebooks/solutions/"
    checks = _checks(nb)
    for i, text in checks:
        assert text.startswith("○") and "not attempted yet" in text and "✗" not in text, f"{path.name} {i}: {text}"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "dl.reveal(" in cell.source:  # Run All must not answer a prediction
            assert _text(cell).startswith("○ Make your guess first"), f"{path.name} cell {i}: {_text(cell)}"
    for i, cell in enumerate(nb.cells):
        assert not NOT_A_NUMBER.search(_text(cell)), f"{path.name} cell {i} prints nan or inf: {_text(cell)}"
    if path.name in DIAGRAM_POINTS:
        diagrams = _diagrams(nb)
        assert diagrams, f"{path.name} shows no sequence diagram"
        point, holds = DIAGRAM_POINTS[path.name]
        assert holds("\n".join(diagrams)), f"{path.name}: its diagrams do not show {point}"
    print(f"{path.name}: {took:.1f} s, {len(checks)} exercise(s) not attempted")


@pytest.mark.kernel
def test_lesson_08_runs_with_the_embedded_backplane(monkeypatch):
    """Lesson 09 once more with DUPLEXLAB_BACKPLANE=embedded (CI has redis-server, which "auto" picks):
    the pip-only student's path runs, prints that fakeredis ran and that its hop is not Redis's."""
    monkeypatch.setenv("DUPLEXLAB_BACKPLANE", "embedded")  # the kernel inherits it
    path = NOTEBOOKS / "09-more-than-one-server.ipynb"
    nb, took = run_notebook(path)
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert not NOT_A_NUMBER.search(text), text
    for i, check in _checks(nb):
        assert check.startswith("○") and "not attempted yet" in check, f"{path.name} {i}: {check}"
    assert "embedded fakeredis" in text and "redis-server" not in text, text
    assert "its hop here is not what Redis costs" in text, text
    hop = next(line for line in text.splitlines() if line.startswith("the hop through"))
    print(f"{path.name} with the embedded backplane: {took:.1f} s; {hop}")


def test_every_lesson_with_exercises_has_its_solutions_notebook():
    """Each lesson's exercises link a solutions notebook that exists, and each solutions notebook a lesson."""
    for path in ALL:
        text = path.read_text()
        if "dl.check." not in text.replace("dl.check.no_sockets_left", ""):
            continue
        solutions = NOTEBOOKS / "solutions" / path.name.replace(".ipynb", "-solutions.ipynb")
        assert solutions in SOLUTIONS, f"{path.name} has exercises but no {solutions.name}"
        assert f"(solutions/{solutions.name})" in text, f"{path.name} does not link {solutions.name}"
    assert len(SOLUTIONS) >= 7


@pytest.mark.kernel
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_notebook_passes_every_check(path):
    """Every solution in the solutions notebook gets ✓ from its check."""
    nb, _ = run_notebook(path)
    checks = _checks(nb)
    assert checks, f"{path.name} runs no check"
    for i, text in checks:
        assert text.startswith("✓") and "✗" not in text, f"{path.name} cell {i}: {text}"


CORRECTIONS = {
    "01-one-way-api.ipynb": ["HPACK", "QPACK", "cookies"],
    "03-long-polling-and-sse.ipynb": ["SETTINGS_MAX_CONCURRENT_STREAMS", "RFC 6455 §4.1", "CONNECTING"],
    "04-websocket-handshake.ipynb": [
        "RSV",
        "| opcode |",
        "continuation",
        "binary",
        "& 0x7F",
        "426",
        "permessage-deflate",
        "RSV1",
    ],
    "05-chat-and-notifications.ipynb": [
        "latency",
        "BrowserSocket.javascript()",
        "readyState",
        '"notify"',
        "?after=",
        "Fetch, then subscribe",
    ],
    "07-keeping-websockets-alive.ipynb": ["1006", "1011", "heartbeat"],
    "08-websocket-security.ipynb": [
        "CSWSH",
        "SameSite",
        "Sec-Fetch-Site",
        "wss://",
        "browser users",
        "| 1001 |",
        "Sec-WebSocket-Protocol",
    ],
}


@pytest.mark.parametrize("name", sorted(CORRECTIONS))
def test_the_experts_corrections_are_in_their_lessons(name):
    """Each lesson states what an expert would otherwise correct (terms from issue 12's review)."""
    nb = json.loads((NOTEBOOKS / name).read_text())
    text = "\n".join("".join(cell["source"]) for cell in nb["cells"])
    missing = [term for term in CORRECTIONS[name] if term not in text]
    assert missing == [], f"{name} lacks {missing}"


# the claim lines each measuring lesson prints (lesson 5's measurements print numbers, not ✓ lines)
CLAIM_LINES = {"02-polling.ipynb": 4, "05-chat-and-notifications.ipynb": 0, "06-side-by-side.ipynb": 10}


@pytest.mark.kernel
@pytest.mark.parametrize("seed", ["1", "2"])
@pytest.mark.parametrize("name", sorted(CLAIM_LINES))
def test_measuring_lessons_under_other_seeds_print_checked_claims_and_no_nan(name, seed, monkeypatch):
    """Lessons 2, 5 and 6 under DUPLEXLAB_SEED=1 and 2: every claim line is ✓ or ✗ with its reason; no nan or inf."""
    monkeypatch.setenv("DUPLEXLAB_SEED", seed)
    nb, _ = run_notebook(NOTEBOOKS / name)
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert not NOT_A_NUMBER.search(text), text
    claims = [line for line in text.splitlines() if line and line[0] in "✓✗"]
    assert len(claims) >= CLAIM_LINES[name], text
    for line in claims:
        assert line.startswith("✓") or ":" in line.split("✗", 1)[1], line
