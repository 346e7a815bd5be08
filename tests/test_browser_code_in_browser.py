"""dl.show.BrowserCode in JupyterLab: the page's own JavaScript against the lab, through a tap.

Run All, then what a student does: read the log, edit the snippet and press Run, press Stop,
clear the output. And what a hostile page tries: post code into the runner from another frame,
frame the runner itself with a made-up or a used ticket.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from .browser import (
    NEEDS_CHROMIUM,
    cell,
    chromium_context,
    chromium_page,
    jupyter_lab,
    open_notebook,
    output_text,
    run_all,
    run_cell,
    screenshot_on_failure,
    serve_folder,
    write_notebook,
)
from .helpers import seconds

pytestmark = [pytest.mark.browser, pytest.mark.kernel, NEEDS_CHROMIUM]

SOCKET = """\
const ws = new WebSocket(WS + "/chat?name=page");
ws.onopen = () => log("open, readyState", ws.readyState);
ws.onmessage = (event) => log("got", JSON.parse(event.data).type);
ws.onclose = (event) => log("closed", event.code);
return () => ws.close(1000, "unmount");"""

FETCH = """\
const answer = await fetch(LAB + "/api/users/meera/notifications");
log(answer.status, (await answer.json()).notifications.length, "notifications");"""


def logged(page, index: int, text: str, timeout: float = 20) -> None:
    cell(page, index).locator(".duplexlab-code-log li", has_text=text).first.wait_for(timeout=seconds(timeout) * 1000)


def test_snippets_run_under_run_all_then_edit_stop_and_unmount(tmp_path):
    name = write_notebook(
        tmp_path,
        "code.ipynb",
        "import duplexlab as dl\nlab = dl.start()\ntap = lab.tap(websockets=True)",
        f"sock = dl.show.BrowserCode({SOCKET!r}, through=tap)\nsock",
        "sock.wait_open('/chat?name=page')",
        f"get = dl.show.BrowserCode({FETCH!r}, through=tap)\nget",
        "import time\ntime.sleep(1)\nprint(sorted({r.path for r in sock.records()}))\n"
        "print([(r.path, r.close_code, r.close_reason) for r in sock.records() if not r.open])",
        "text = tap.transcript()\nprint('GET /api/users/meera/notifications' in text, 'GET /chat?name=page' in text)",
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_page(tmp_path) as page, screenshot_on_failure(page, "code"):
        open_notebook(page, base, token, name)
        run_all(page)
        assert "the page's socket to /chat?name=page is open" in output_text(page, 2)
        print("direct, through a tap:", output_text(page, 2).strip())
        logged(page, 1, "open, readyState 1")
        logged(page, 1, "got welcome")
        logged(page, 3, "200 0 notifications")
        assert "True True" in output_text(page, 5)
        first_log = cell(page, 1).locator(".duplexlab-code-log").inner_text()
        assert re.search(r"run 1 · \d+ ms · open, readyState 1", first_log), first_log

        # edit the snippet and press Run: the old socket's cleanup runs, a new one opens
        editor = cell(page, 1).locator(".duplexlab-code-text")
        editor.fill(SOCKET.replace("name=page", "name=page2"))
        cell(page, 1).locator(".duplexlab-code-run").click()
        logged(page, 1, "cleanup ran (run again)")
        logged(page, 1, "run 2 · ")
        cell(page, 1).locator(".duplexlab-code-log li", has_text=re.compile(r"run 2 · .* got welcome")).wait_for(
            timeout=seconds(20) * 1000
        )
        cell(page, 1).locator(".duplexlab-code-stop").click()  # Stop: the cleanup closes it
        logged(page, 1, "cleanup ran (Stop)")
        cell(page, 1).locator(".duplexlab-code-run").click()  # and run it once more, for the unmount below
        cell(page, 1).locator(".duplexlab-code-log li", has_text=re.compile(r"run 3 · .* got welcome")).wait_for(
            timeout=seconds(20) * 1000
        )
        cell(page, 1).locator(".jp-OutputArea").click(button="right")  # unmount: Clear Cell Output
        page.get_by_role("menuitem", name="Clear Cell Output").click()
        run_cell(page, 4)
        out = output_text(page, 4)
        assert "['/chat?name=page', '/chat?name=page2']" in out
        assert out.count("1000, 'unmount'") == 3, out  # run again, Stop, Clear Cell Output
        assert "page2', 1000, 'unmount'" in out


FOREIGN = """<!doctype html><title>foreign</title><script>
// Post code into every frame of the page that framed us (the runner is our sibling), then frame
// the runner ourselves, first with a made-up ticket, then with the ticket a test hands us.
const evil = 'new WebSocket(WS + "/chat?name=intruder"); fetch(LAB + "/api/health?intruder")';
for (let i = 0; i < parent.frames.length; i++) {
  try { parent.frames[i].postMessage({duplexlab: "code", op: "run", ticket: "x", code: evil, lab: "", ws: ""}, "*"); }
  catch (e) {}
}
window.tryRunner = (url, ticket) => new Promise((resolve) => {
  const frame = document.createElement("iframe");
  frame.src = url;
  addEventListener("message", (event) => {
    if (event.source !== frame.contentWindow) return;
    const lab = url.split("/_duplexlab")[0];
    if (event.data.op === "ready") {
      const message = {duplexlab: "code", op: "run", ticket, code: evil, lab, ws: lab.replace("http", "ws")};
      frame.contentWindow.postMessage(message, "*");
    } else resolve(event.data.op + ": " + (event.data.text || ""));
  });
  document.body.append(frame);
  setTimeout(() => resolve("no answer"), 4000);
});
</script>"""


def test_a_foreign_page_gets_nothing_run(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "foreign.html").write_text(FOREIGN)
    name = write_notebook(
        tmp_path,
        "code.ipynb",
        "import duplexlab as dl\nlab = dl.start()",
        f"sock = dl.show.BrowserCode({SOCKET!r}, through=lab)\nused = sock.editor.ticket  # the page will use it\nsock",
        "sock.wait_open('/chat?name=page')\nprint(lab.port, used)",
        "print(sorted({r.path for r in lab.websockets.records}))\n"
        "print(any(r[2] == '/_duplexlab/runner/unlock' for r in lab.policy.refused))",
    )
    with (
        serve_folder(site) as foreign,
        jupyter_lab(tmp_path) as (base, token),
        chromium_page(tmp_path) as page,
        screenshot_on_failure(page, "code-foreign"),
    ):
        open_notebook(page, base, token, name)
        for index in range(3):
            run_cell(page, index)
        assert "is open" in output_text(page, 2)
        port, used = output_text(page, 2).strip().splitlines()[-1].split()
        # a foreign frame inside the notebook's page posts code to its sibling, the unlocked runner
        page.evaluate(
            "url => new Promise(r => { const f = document.createElement('iframe'); f.src = url;"
            " f.onload = () => setTimeout(r, 1500); document.body.append(f); })",
            f"{foreign}/foreign.html",
        )
        # a foreign page frames the runner itself: a made-up ticket, then the ticket the widget used
        other = page.context.new_page()
        other.goto(f"{foreign}/foreign.html")
        runner = f"http://127.0.0.1:{port}/_duplexlab/runner"
        assert other.evaluate("([u, t]) => tryRunner(u, t)", [runner, "made-up"]).startswith("refused")
        assert other.evaluate("([u, t]) => tryRunner(u, t)", [runner, used]).startswith("refused")
        run_cell(page, 3)
        out = output_text(page, 3)
        assert "intruder" not in out, out
        assert json.loads(out.splitlines()[0].replace("'", '"')) == ["/chat?name=page"]
        assert "True" in out  # the made-up ticket was refused, and noted


LONG = "\n".join(
    [f'log("line {i} of a longer snippet");' for i in range(1, 15)] + ["for (let i = 0; i < 30; i++) log(i);"]
)


def test_on_a_short_projector_screen_the_widget_leaves_room_for_its_diagram(tmp_path):
    """At 150 % zoom on a 1366×900 projector (912×600 CSS px) a 15-line snippet with a 44-line log keeps
    the code box and the log to parts of the window (each scrolls inside), so the widget and the top of
    its diagram share one screen (looked at: a screenshot)."""
    name = write_notebook(
        tmp_path,
        "short.ipynb",
        "import duplexlab as dl\nlab = dl.start()\ntap = lab.tap(websockets=True)",
        f"long = dl.show.BrowserCode({LONG!r}, through=tap, diagram=True)\nlong",
    )
    with (
        jupyter_lab(tmp_path) as (base, token),
        chromium_context(tmp_path, viewport={"width": 912, "height": 600}) as context,
    ):
        page = context.new_page()
        with screenshot_on_failure(page, "code-short-screen"):
            open_notebook(page, base, token, name)
            run_all(page)
            logged(page, 1, "29")
            widget = cell(page, 1).locator(".duplexlab-code")
            widget.scroll_into_view_if_needed()
            height = widget.evaluate("el => el.getBoundingClientRect().height")
            page.screenshot(
                path=str(Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", "/tmp")) / "duplexlab-code-912x600.png")
            )
            assert height <= 0.8 * 600, f"the widget is {height:.0f} px tall in a 600 px window"
            log = cell(page, 1).locator(".duplexlab-code-log")
            assert log.evaluate("el => el.scrollHeight > el.clientHeight"), "the log scrolls inside"
