"""What a person sees in JupyterLab, in real headless Chromium."""

from __future__ import annotations

import time

import pytest

from .browser import (
    NEEDS_CHROMIUM,
    cell,
    chromium_page,
    jupyter_lab,
    open_in_lab,
    open_notebook,
    output_text,
    run_all,
    run_cell,
    run_first_cell,
    screenshot_on_failure,
    serve_folder,
    write_notebook,
)
from .helpers import seconds, wait_for

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


def test_moving_the_interval_slider_updates_the_plot(tmp_path):
    """In JupyterLab, pressing → on the interval slider re-runs the experiment and redraws within 5 s."""
    name = write_notebook(
        tmp_path,
        "slider.ipynb",
        "import duplexlab as dl\nlab = dl.start()\n"
        "exp = dl.widgets.PollingExperiment(lab, interval=0.5, judge_seconds=0.5, students=2)\nexp",
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_page(tmp_path) as page, screenshot_on_failure(page, "slider"):
        run_first_cell(page, base, token, name)
        status = page.locator(".widget-html-content", has_text="run 1")
        status.wait_for(timeout=seconds(60) * 1000)
        image = page.locator(".jp-OutputArea img").first
        first_src = image.get_attribute("src")
        assert first_src

        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.locator(".widget-html-content", has_text="run 2").wait_for(timeout=seconds(5) * 1000)
        page.wait_for_function(
            "old => document.querySelector('.jp-OutputArea img').src !== old",
            arg=first_src,
            timeout=seconds(5) * 1000,
        )
        assert "every 0.6 s" in page.locator(".widget-html-content", has_text="run 2").inner_text()
        assert page.locator(".widget-readout").first.inner_text().strip() == "0.6"
        page.screenshot(path=str(tmp_path / "slider.png"))


def test_browser_socket_mounts_receives_sends_and_closes_on_unmount(tmp_path):
    """The notebook's browser client opens on mount, gets a push, reaches an in-kernel user,
    and closes with 1000 "unmount" when its output is cleared."""
    name = write_notebook(
        tmp_path,
        "socket.ipynb",
        "import json, time\nimport duplexlab as dl\nlab = dl.start()\n"
        "meera = lab.connect('/chat?name=meera')\nprint(json.loads(meera.recv(timeout=5))['type'])",
        "w = dl.widgets.BrowserSocket(lab, '/chat?name=browser')\nw",
        "print(lab.ws_connections, sorted(r.path for r in lab.websockets.open_connections))",
        "meera.send(json.dumps({'type': 'message', 'text': 'pushed from the kernel'}))",
        "got = None\nwhile got is None:\n    m = json.loads(meera.recv(timeout=10))\n"
        "    if m['type'] == 'message' and m['from'] == 'browser':\n        got = m['text']\nprint('kernel got:', got)",
        "time.sleep(1)\nrec = [r for r in lab.websockets.records if r.path == '/chat?name=browser'][-1]\n"
        "print('closed:', rec.close_code, rec.close_reason, lab.ws_connections)",
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_page(tmp_path) as page, screenshot_on_failure(page, "socket"):
        open_notebook(page, base, token, name)
        run_cell(page, 0)
        assert "welcome" in output_text(page, 0)
        run_cell(page, 1)
        widget = cell(page, 1)
        widget.locator(".duplexlab-socket-status", has_text="open").wait_for(timeout=seconds(20) * 1000)

        run_cell(page, 2)  # mount → open: the lab sees the browser's socket
        assert "/chat?name=browser" in output_text(page, 2)
        assert output_text(page, 2).startswith("2 ")

        run_cell(page, 3)  # push from the kernel reaches the browser
        widget.locator(".duplexlab-socket-log li", has_text="pushed from the kernel").wait_for(
            timeout=seconds(10) * 1000
        )

        run_cell(page, 4, wait=False)  # the kernel waits for the browser's message
        widget.locator(".duplexlab-socket-input").fill("hello from the browser")
        widget.locator(".duplexlab-socket-send").click()
        page.wait_for_function(
            "el => el.textContent.includes('kernel got: hello from the browser')",
            arg=cell(page, 4).element_handle(),
            timeout=seconds(20) * 1000,
        )

        cell(page, 1).locator(".jp-OutputArea").click(button="right")  # unmount: clear the output
        page.get_by_role("menuitem", name="Clear Cell Output").click()
        run_cell(page, 5)
        assert "closed: 1000 unmount 1" in output_text(page, 5)


def test_a_page_from_another_origin_is_refused(tmp_path):
    """A page served from another loopback port opens a socket to the lab: refused with 403.
    (The course's own widget, which registers Jupyter's origin, is accepted: see the test above.)"""
    import duplexlab as dl

    with dl.Lab() as lab:
        page_html = f"""<!doctype html><title>waiting</title><script>
          const ws = new WebSocket("{lab.ws_url}/chat?name=intruder");
          ws.onopen = () => {{ document.title = "opened"; }};
          ws.onclose = (e) => {{ if (document.title !== "opened") document.title = "refused " + e.code; }};
        </script>"""
        (tmp_path / "evil.html").write_text(page_html)
        with serve_folder(tmp_path) as origin:
            with chromium_page(tmp_path) as page, screenshot_on_failure(page, "origin"):
                page.goto(f"{origin}/evil.html")
                page.wait_for_function("document.title !== 'waiting'", timeout=seconds(10) * 1000)
                assert page.title() == "refused 1006"
                assert (origin, "/chat?name=intruder", 403) in [r[1:] for r in lab.websockets.refused]
                assert lab.ws_connections == 0

                lab.allow_origin(origin)  # the same page, once its origin is allowed, gets in
                page.reload()
                page.wait_for_function("document.title !== 'waiting'", timeout=seconds(10) * 1000)
                assert page.title() == "opened"


ATTACK_PAGE = """<!doctype html><title>attacking</title>
<iframe name="sink"></iframe>
<form id="urlencoded" method="POST" target="sink" action="{lab}/api/judge/submissions">
  <input name='{{"code": "{code}", "x": "' value='"}}'></form>
<form id="plain" method="POST" target="sink" enctype="text/plain"
      action="{lab}/api/users/asha/notifications">
  <input name='{{"text": "forged by a form", "x": "' value='"}}'></form>
<script>
const LAB = "{lab}";
const code = "{code}";
async function attack() {{
  const tries = [
    fetch(LAB + "/api/judge/submissions", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{code}})}}),
    fetch(LAB + "/api/users/asha/notifications", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{text: "forged"}})}}),
    fetch(LAB + "/api/judge/submissions", {{method: "POST",
      headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{code}})}}),
  ];
  const results = await Promise.allSettled(tries);
  document.getElementById("urlencoded").submit();
  await new Promise(r => setTimeout(r, 300));
  document.getElementById("plain").submit();
  await new Promise(r => setTimeout(r, 300));
  document.title = "done " + results.map(r => r.status).join(",");
}}
attack();
</script>"""


def test_a_page_from_another_origin_cannot_run_code_or_notify(tmp_path):
    """A page on another loopback port tries fetch no-cors text/plain, a JSON fetch and two form
    POSTs against the judge and the notifications: nothing is submitted, nothing created, no file
    written. A page on a name that resolves to 127.0.0.1 (DNS rebinding) is refused (421)."""
    from collections import Counter

    import duplexlab as dl

    sentinel = tmp_path / "pwned.txt"
    code = f"open('{sentinel}', 'w').write('x')"
    with dl.Lab() as lab:
        (tmp_path / "attack.html").write_text(ATTACK_PAGE.format(lab=lab.url, code=code))
        rebinding = "--host-resolver-rules=MAP attacker.example 127.0.0.1"
        with serve_folder(tmp_path) as origin:
            with chromium_page(tmp_path, args=(rebinding,)) as page, screenshot_on_failure(page, "attack"):
                page.goto(f"{origin}/attack.html")
                page.wait_for_function("document.title.startsWith('done')", timeout=seconds(15) * 1000)
                # the JSON fetch needs a preflight the lab never grants: the browser blocks it
                assert page.title().endswith("rejected")
                time.sleep(seconds(1.5))  # anything the judge had accepted would have run by now
                assert lab.judge.submissions == []
                assert lab.notifications.all == []
                assert not sentinel.exists()
                # every attempt reached the lab and was refused there, by name
                refused = Counter((m, p, s) for _, m, p, s, o in lab.policy.refused if o == origin)
                assert refused[("POST", "/api/judge/submissions", 403)] == 2  # fetch and form
                assert refused[("POST", "/api/users/asha/notifications", 403)] == 2
                assert refused[("OPTIONS", "/api/judge/submissions", 403)] == 1  # the preflight

                answer = page.goto(f"http://attacker.example:{lab.port}/api/health")
                assert answer.status == 421
                assert "does not answer for the host" in page.content()
                assert lab.client().get("/api/health").status == 200  # the lab's own name works


def test_a_widget_left_on_the_page_says_when_the_kernel_restarted(tmp_path):
    """After Kernel → Restart, the polling controls say "Kernel restarted … run this cell again"."""
    name = write_notebook(
        tmp_path,
        "restart.ipynb",
        "import duplexlab as dl\nlab = dl.start()\nexp = dl.widgets.PollingExperiment(lab, autorun=False)\nexp",
    )
    with (
        jupyter_lab(tmp_path) as (base, token),
        chromium_page(tmp_path) as page,
        screenshot_on_failure(page, "restart"),
    ):
        open_notebook(page, base, token, name)
        run_cell(page, 0)
        note = page.locator(".duplexlab-lab-watch")
        note.wait_for(state="attached", timeout=seconds(10) * 1000)
        time.sleep(1)
        assert not note.is_visible()  # all is well: the note stays hidden
        page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
        page.locator('li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Restart Kernel…"))').click()
        page.locator(".jp-Dialog button", has_text="Restart").click()
        note.filter(has_text="Kernel restarted").wait_for(state="visible", timeout=seconds(20) * 1000)
        assert "Run this cell again" in note.inner_text()


def test_a_kernel_dialog_that_comes_late_is_accepted_before_the_next_click(tmp_path):
    """The browser suite's own guard: on a busy machine JupyterLab may ask "Select Kernel" after the notebook
    opened, over the Run menu (three failures beside two CPU burners). Here the dialog is opened on purpose
    (Kernel → Change Kernel…) and Run All still runs: Playwright accepts the notebook's kernel first."""
    name = write_notebook(tmp_path, "late.ipynb", "print('ran', 6 * 7)")
    exposed = {"LabApp": {"expose_app_in_browser": True}}  # window.jupyterapp: two dialogs at once, below
    with jupyter_lab(tmp_path, server_config=exposed) as (base, token), chromium_page(tmp_path) as page:
        with screenshot_on_failure(page, "late-kernel-dialog"):
            open_in_lab(page, base, token, name)
            page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
            page.locator('li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Change Kernel…"))').click()
            dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
            # the dialog opens (count() is no action: the locator handler does not run for it)
            wait_for(lambda: dialog.count() == 1, timeout=10, why=lambda: "no Select Kernel dialog")
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=seconds(10) * 1000)
            wait_for(lambda: dialog.count() == 0, timeout=10, why=lambda: "the dialog stayed over the menu")
            page.keyboard.press("Escape")  # the Run menu it opened
            run_all(page)
            assert "ran 42" in output_text(page, 0)
            # two at once: JupyterLab shows one and queues the next behind it (CI once waited 60 s on the
            # second, for the first was all Playwright accepted); both are accepted and Run All runs again
            page.evaluate(
                "() => { for (let i = 0; i < 2; i++) window.jupyterapp.commands.execute('kernelmenu:change'); }"
            )
            wait_for(lambda: dialog.count() == 1, timeout=10, why=lambda: "no Select Kernel dialog")
            run_all(page)
            assert page.locator(".jp-Dialog").count() == 0
            assert "ran 42" in output_text(page, 0)
