"""JupyterLab in headless Chromium, for tests of what a person sees.

Starts a real ``jupyter lab`` server on 127.0.0.1 with a token, in a folder of
the test's own, and drives Debian's Chromium (``/usr/bin/chromium``) with
Playwright. Nothing is downloaded: Playwright never installs a browser here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from .helpers import free_port, seconds, settled, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# for a test module: pytestmark = NEEDS_CHROMIUM
NEEDS_CHROMIUM = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (bash .ci/run installs it)"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_notebook(folder: Path, name: str, *sources: str) -> str:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return name


COURSE = Path(__file__).parent.parent / "notebooks"


@contextmanager
def course_in_lab(folder: Path, names: Iterable[str]):
    """A JupyterLab server on a copy of these course files (paths under notebooks/) in ``folder``;
    yields (folder, base URL, token)."""
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(COURSE / name, folder / name)
    with jupyter_lab(folder) as (base, token):
        yield folder, base, token


@contextmanager
def jupyter_lab(
    folder: Path,
    *,
    ip: str = "127.0.0.1",
    base_url: str = "/",
    netns: str | None = None,
    server_config: dict | None = None,
    env: dict[str, str] | None = None,
):
    """A JupyterLab server serving ``folder``; yields its base URL (base_url included) and the token.

    ``netns`` runs it (and so its kernels) inside that network namespace, listening on ``ip``;
    ``server_config`` is written as its ``jupyter_server_config.json`` (e.g. to turn an extension off);
    ``env`` is added to its environment (and so its kernels').
    """
    port, token = free_port(), secrets.token_hex(16)
    settings = folder / ".settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {**os.environ, **(env or {})}
    if server_config is not None:
        config = folder / ".jupyter-config"
        config.mkdir()
        (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
        env["JUPYTER_CONFIG_DIR"] = str(config)
    cmd = [
        *(["ip", "netns", "exec", netns] if netns else []),
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        f"--ip={ip}",
        f"--ServerApp.base_url={base_url}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={folder / '.ws'}",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(folder / "jupyter.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    base = f"http://{ip}:{port}{base_url.rstrip('/')}"
    try:
        said = lambda: "jupyter lab did not start:\n" + (folder / "jupyter.log").read_text()

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(said()) from None
                return False
            return True

        wait_for(answers, timeout=60, why=said, interval=0.2)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def serve_folder(folder: Path):
    """Serve ``folder`` over HTTP on another loopback port (a page the lab never allowed).

    Yields the page server's origin, e.g. ``http://127.0.0.1:40123``.
    """
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        site.server_close()


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show (JupyterLab or Notebook 7)


def open_in_lab(page, base: str, token: str, name: str, *, ui: str = "lab") -> None:
    """Open a notebook in JupyterLab (``ui="lab"``) or Notebook 7 (``ui="notebook"``)."""
    take_the_kernel_whenever_asked(page)
    if ui == "lab":
        workspace = re.sub(r"[^A-Za-z0-9-]", "-", name)
        page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}")
    else:
        page.goto(f"{base}/notebooks/{name}?token={token}")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-CodeCell .cm-content", timeout=seconds(60) * 1000)
    # attached, not visible: in a narrow window (150 % zoom) the toolbar hides the indicator
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=seconds(60) * 1000
    )
    time.sleep(0.5)
    accept_kernel(page)


# Clicks Select in the Select Kernel dialog on show (in the page's own script, so no Playwright handler runs
# first); returns whether there was one.
SELECT_KERNEL = """() => { const d = [...document.querySelectorAll('.jp-Dialog')]
                               .find((d) => d.textContent.includes('Select Kernel'));
                           const b = d && [...d.querySelectorAll('button')]
                               .find((b) => b.textContent.trim() === 'Select');
                           if (b) b.click();
                           return Boolean(b); }"""


def take_the_kernel_whenever_asked(page) -> None:
    """On a busy machine JupyterLab may ask which kernel to use late (its kernel list came slowly), over
    whatever the test clicks next: Playwright then accepts the notebook's own kernel before that action.
    It does not wait for the dialog to go (another may be queued behind it): accept_kernel does."""
    if getattr(page, "duplexlab_kernel_handler", False):
        return

    def accept() -> None:
        if page.evaluate(SELECT_KERNEL):
            page.duplexlab_kernel_changed = True  # accept_kernel waits for the new kernel

    page.add_locator_handler(page.locator(".jp-Dialog", has_text="Select Kernel"), accept, no_wait_after=True)
    page.duplexlab_kernel_handler = True


def accept_kernel(page) -> None:
    """A fresh server may ask which kernel to use (sometimes late, on a busy machine): take the notebook's own,
    as often as it asks (JupyterLab queues its dialogs: one may wait behind another), then wait until the
    kernel it starts is idle, and has stayed idle for a second (a cell run before that goes to the kernel
    being replaced, and its output is lost)."""
    deadline = time.monotonic() + seconds(60)
    asked = getattr(page, "duplexlab_kernel_changed", False)  # the handler accepted one
    page.duplexlab_kernel_changed = False
    while page.evaluate(SELECT_KERNEL):
        asked = True
        if time.monotonic() > deadline:
            shown = page.evaluate(
                "() => [...document.querySelectorAll('.jp-Dialog')].map((d) => d.outerHTML.slice(0, 2000))"
            )
            raise AssertionError(f"the Select Kernel dialog stays after Select was clicked for 60 s: {shown}")
        time.sleep(0.5)
    if asked:
        status = "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status"
        wait_for(
            settled(lambda: page.evaluate(status) != "idle", 1),
            timeout=60,
            why=lambda: f"the kernel chosen is not idle: {page.evaluate(status)}",
            interval=0.1,
        )


def code_cell(page, source: str):
    """The code cell (of the notebook on show) whose source contains ``source``'s first line."""
    first = source.splitlines()[0]
    found = page.locator(f"{PANEL} .jp-CodeCell").filter(has=page.locator(".cm-content", has_text=first))
    assert found.count() == 1, f"{found.count()} cells contain {first!r}"
    return found


def js_cell(page, code: str):
    """The cell whose dl.show.BrowserCode holds JavaScript that contains ``code`` (its Python is hidden:
    the student reads and edits the JavaScript in the widget's text box)."""
    found = page.locator(f"{PANEL} .jp-CodeCell").filter(has=page.locator(".duplexlab-code-text", has_text=code))
    assert found.count() == 1, f"{found.count()} JavaScript cells contain {code!r}"
    return found


def run_one(page, source: str) -> str:
    """Run the cell containing ``source`` (Shift+Enter) and wait for it; return its output text."""
    target = code_cell(page, source)
    prompt = target.locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    target.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "([el, old]) => el.textContent !== old && /\\[\\d+\\]/.test(el.textContent)",
        arg=[prompt.element_handle(), before],
        timeout=seconds(60) * 1000,
    )
    return target.locator(".jp-OutputArea").text_content()


def run_all(page) -> float:
    """Run → Run All Cells, then wait until no cell is running or queued and the kernel is idle for 2 s;
    returns seconds. (After a cell tagged raises-exception, JupyterLab shows the queued cells as "[ ]"
    while the kernel goes on running them: the kernel's status says it is still busy.)"""
    busy = f"""() => [...document.querySelectorAll('{PANEL} .jp-InputArea-prompt')]
                   .some(e => e.textContent.includes('*'))
               || [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')]
                   .some(e => e.dataset.status && e.dataset.status !== 'idle')"""
    prompts = f"""() => [...document.querySelectorAll('{PANEL} .jp-InputArea-prompt')].map(e => e.textContent)"""
    # started: a cell is queued or running, or the counts changed (a notebook reopened with its outputs
    # already shows numbers, so numbers alone do not say that this Run All began)
    started = f"""(before) => {{
        const now = ({prompts})();
        return now.some(t => t.includes('*')) || now.some((t, i) => /\\[\\d+\\]/.test(t) && t !== before[i]);
    }}"""
    take_the_kernel_whenever_asked(page)  # a Select Kernel dialog over the menu is accepted before each click
    for attempt in range(3):  # a click that lands while the page settles does nothing: again
        accept_kernel(page)
        before = page.evaluate(prompts)
        t0 = time.perf_counter()
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=seconds(10) * 1000)
            page.locator('li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click(
                timeout=seconds(10) * 1000
            )
            page.wait_for_function(started, arg=before, timeout=seconds(10) * 1000)
            break
        except Exception:
            if attempt == 2:
                raise
            if not page.locator(".jp-Dialog").count():
                page.keyboard.press("Escape")  # a menu left open
    wait_for(settled(lambda: page.evaluate(busy), 2), timeout=240, why=lambda: "Run All did not finish", interval=0.1)
    return time.perf_counter() - t0 - 2


def saved_notebook(page, base: str, token: str, name: str) -> dict:
    """Save the notebook from the browser and read it back from the server.

    The content is read only once the file's modification time has moved and then held still for
    half a second: a notebook read while the browser's save is writing it can be taken for a broken
    file, which the server then moves aside (``.invalid``) and the page reports as a save error.
    """

    def modified() -> str:
        with urllib.request.urlopen(f"{base}/api/contents/{name}?content=0&token={token}") as answer:
            return json.load(answer)["last_modified"]

    before = modified()
    pressed, seen, since = 0.0, before, time.monotonic()
    problem = "the notebook was not saved"

    def saved() -> dict | None:
        nonlocal before, pressed, seen, since, problem
        now = modified()
        if now != seen:
            seen, since = now, time.monotonic()
        if seen == before and time.monotonic() - pressed > seconds(6):  # a key press can land while busy
            page.locator(f"{PANEL} .jp-Notebook").click(position={"x": 5, "y": 5})
            page.keyboard.press("Control+s")
            pressed = time.monotonic()
        elif seen != before and time.monotonic() - since > 0.5:
            try:
                with urllib.request.urlopen(f"{base}/api/contents/{name}?token={token}") as answer:
                    model = json.load(answer)["content"]
                if any(c.get("outputs") for c in model["cells"] if c["cell_type"] == "code"):
                    return model
                problem = "the saved notebook has no outputs"
                before = seen  # an autosave from before Run All ended: save again
            except urllib.error.HTTPError as exc:
                problem = f"the server could not read {name}: {exc.read()[:300]!r}"
        return None

    return wait_for(saved, timeout=30, why=lambda: problem, interval=0.2)


PROJECTOR: ViewportSize = {"width": 1366, "height": 900}  # a classroom projector


@contextmanager
def chromium_context(folder: Path, *, args: tuple[str, ...] = (), viewport: ViewportSize | None = None):
    """Debian's headless Chromium driven by Playwright, with a profile of its own in ``folder``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(folder / ".chromium"),
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, *args],
            viewport=viewport or {"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@contextmanager
def chromium_page(folder: Path, *, args: tuple[str, ...] = ()):
    """A Playwright page in Debian's headless Chromium, with a profile of its own."""
    with chromium_context(folder, args=args) as context:
        yield context.new_page()


def open_notebook(page, base: str, token: str, name: str) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    take_the_kernel_whenever_asked(page)
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell .cm-content", timeout=seconds(60) * 1000)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=seconds(60) * 1000
    )


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page, index: int, *, wait: bool = True) -> None:
    """Run cell ``index`` (Shift+Enter); with ``wait``, until its prompt shows a number."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    for _ in range(3):  # the first key press can land before the editor is ready
        cell(page, index).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function(
                "([el, old]) => el.textContent !== old && /\\[(\\*|\\d+)\\]/.test(el.textContent)",
                arg=[prompt.element_handle(), before],
                timeout=seconds(10) * 1000,
            )
            break
        except Exception:
            continue
    else:
        raise AssertionError(f"JupyterLab did not start running cell {index}")
    if wait:
        page.wait_for_function(
            "el => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=seconds(60) * 1000
        )


def output_text(page, index: int) -> str:
    return cell(page, index).locator(".jp-OutputArea").inner_text()


def run_first_cell(page, base: str, token: str, name: str) -> None:
    """Open a notebook in JupyterLab and start running its first cell."""
    open_notebook(page, base, token, name)
    run_cell(page, 0, wait=False)


@contextmanager
def screenshot_on_failure(page, name: str):
    """On failure, keep a screenshot in $DUPLEXLAB_SCREENSHOTS (default: the temp folder)."""
    try:
        yield
    except BaseException:
        folder = Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", "/tmp"))
        path = folder / f"duplexlab-{name.replace('/', '-')}-failure.png"
        try:
            page.screenshot(path=str(path))
            print(f"screenshot of the failure: {path}")
        except Exception:
            pass
        raise
