"""The live sequence diagram as a person sees it: Run All in JupyterLab and in Notebook 7, in Chromium."""

from __future__ import annotations

import re
import time

import pytest

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    accept_kernel,
    chromium_context,
    jupyter_lab,
    open_in_lab,
    saved_notebook,
    screenshot_on_failure,
    write_notebook,
)
from .conftest import seconds

pytestmark = NEEDS_CHROMIUM

LOOPS = 8
CELLS = (
    "import time\nimport duplexlab as dl\nlab = dl.start()\n"
    "tap = lab.tap(lab.url)\nclient = dl.Client(tap.url)\nseq = tap.show()\nseq",
    "client.get('/api/health')\nclient.get('/api/users/asha/notifications')\n"
    "other = dl.Client(tap.url)  # a second connection: a lane of its own\nother.get('/api/health')",
    "wtap = lab.tap(lab.ws_url)\nframes = wtap.show()\nframes",
    "ws = lab.connect('/echo', base_url=wtap.url)\nws.send('hello')\nprint(ws.recv(timeout=5))\nws.close()",
    f"for i in range({LOOPS}):\n    client.get('/api/health')\n    time.sleep(0.5)",
    "print(len(seq.arrows()), len(frames.arrows()))",
)
HTTP_ARROWS = (
    ["GET /api/health", "200 OK", "GET /api/users/asha/notifications", "200 OK"]
    + [
        "GET /api/health",
        "200 OK",
    ]
    + [
        "GET /api/health",
        "200 OK",
    ]
    * LOOPS
)
WS_ARROWS = [
    "GET /echo",
    "101 Switching Protocols",
    "TEXT 5 B masked",
    "TEXT 5 B",
    "CLOSE 1000 masked",
    "CLOSE 1000",
]


def arrow_labels(diagram) -> list[str]:
    return diagram.locator("svg.duplexlab-seq-svg g.arrow").evaluate_all(
        "gs => gs.map(g => g.getAttribute('data-label'))"
    )


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_the_diagram_draws_every_exchange_live_and_shows_bytes_on_hover(tmp_path, ui):
    """After Run All: exactly the expected arrows in order with their labels (HTTP and WebSocket);
    the arrow count grows while the looping cell still runs; hovering an arrow shows its byte counts;
    the kind filter and the SVG download work."""
    name = write_notebook(tmp_path, "sequence.ipynb", *CELLS)
    with jupyter_lab(tmp_path) as (base, token), chromium_context(tmp_path) as context:
        page = context.new_page()
        with screenshot_on_failure(page, f"sequence-{ui}"):
            open_in_lab(page, base, token, name, ui=ui)
            http = page.locator(f"{PANEL} .duplexlab-seq").first
            loop_prompt = page.locator(f"{PANEL} .jp-CodeCell").nth(4).locator(".jp-InputArea-prompt")
            run_all_started = time.monotonic()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator('li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click()

            # while the loop cell runs (the cells before it done), the count grows: arrows arrive over
            # the comm as the requests happen, not when the cell ends
            ws_prompt = page.locator(f"{PANEL} .jp-CodeCell").nth(3).locator(".jp-InputArea-prompt")
            start, end = len(HTTP_ARROWS) - 2 * LOOPS, len(HTTP_ARROWS)
            counts_while_running: list[int] = []
            deadline = time.monotonic() + seconds(120)
            while not re.fullmatch(r"\[\d+\]:?", loop_prompt.inner_text().strip()):
                assert time.monotonic() < deadline, "the looping cell did not finish"
                if re.search(r"\d", ws_prompt.inner_text()) and "*" in loop_prompt.inner_text() and http.count():
                    count = len(arrow_labels(http))
                    if not counts_while_running or count != counts_while_running[-1]:
                        counts_while_running.append(count)
                time.sleep(0.1)
            between = {n for n in counts_while_running if start < n < end}
            assert len(between) >= 2, (start, end, counts_while_running)  # seen part-way, twice at least
            last_prompt = page.locator(f"{PANEL} .jp-CodeCell").nth(5).locator(".jp-InputArea-prompt")
            page.wait_for_function(
                "el => /\\[\\d+\\]/.test(el.textContent)", arg=last_prompt.element_handle(), timeout=seconds(30) * 1000
            )
            print(
                f"{ui}: Run All took {time.monotonic() - run_all_started:.1f} s; counts while running",
                counts_while_running,
            )

            model = saved_notebook(page, base, token, name)
            for k, c in enumerate(model["cells"]):
                errors = [o for o in c["outputs"] if o["output_type"] == "error"]
                assert not errors, f"cell {k}: {errors}"
            http.scroll_into_view_if_needed()
            page.wait_for_function(
                "([el, n]) => el.querySelectorAll('svg g.arrow').length >= n",
                arg=[http.element_handle(), len(HTTP_ARROWS)],
                timeout=seconds(5) * 1000,
            )
            assert arrow_labels(http) == HTTP_ARROWS
            assert f"{len(HTTP_ARROWS)} arrows · 2 connection(s)" in http.locator(".duplexlab-seq-summary").inner_text()
            ws = page.locator(f"{PANEL} .duplexlab-seq").nth(1)
            assert arrow_labels(ws) == WS_ARROWS
            assert f"{len(WS_ARROWS)} arrows" in ws.locator(".duplexlab-seq-summary").inner_text()

            first = http.locator("svg g.arrow").first
            first.hover()
            detail = http.locator(".duplexlab-seq-detail")
            text = detail.inner_text()
            assert "GET /api/health" in text and "bytes on the wire:" in text and "header" in text, text
            response = http.locator("svg g.arrow").nth(1)
            response.hover()
            text = detail.inner_text()
            size = int(response.get_attribute("data-bytes"))
            assert f"{size} bytes on the wire:" in text and "body" in text, text
            frame = ws.locator("svg g.arrow").nth(2)
            frame.hover()
            text = ws.locator(".duplexlab-seq-detail").inner_text()
            assert "frame header" in text and "payload" in text and "hello" in text, text

            # filters: untick frames and only the handshake is left; a time window hides the rest
            ws.locator(".duplexlab-seq-kind-frames").uncheck()
            assert arrow_labels(ws) == WS_ARROWS[:2]
            ws.locator(".duplexlab-seq-kind-frames").check()
            assert arrow_labels(ws) == WS_ARROWS

            # one connection at a time: the second client's lane holds its one exchange
            http.locator(".duplexlab-seq-lane").select_option(label="conn 2")
            assert arrow_labels(http) == ["GET /api/health", "200 OK"]
            http.locator(".duplexlab-seq-lane").select_option(label="conn 1")
            assert len(arrow_labels(http)) == len(HTTP_ARROWS) - 2
            http.locator(".duplexlab-seq-lane").select_option(label="all connections")

            # a time window: from 1 s on, only the later polls of the loop (it ran for 4 s)
            http.locator(".duplexlab-seq-from").fill("1")
            http.locator(".duplexlab-seq-from").dispatch_event("change")
            assert 0 < len(arrow_labels(http)) < len(HTTP_ARROWS)
            http.locator(".duplexlab-seq-from").fill("")
            http.locator(".duplexlab-seq-from").dispatch_event("change")
            assert len(arrow_labels(http)) == len(HTTP_ARROWS)

            # the SVG download for slides holds the same arrows
            with page.expect_download() as download:
                http.locator(".duplexlab-seq-save").click()
            saved = download.value.path().read_text()
            assert re.findall(r'data-label="([^"]*)"', saved) == HTTP_ARROWS
            for name in (">conn 1<", ">conn 2<", ">tap<", ">server<", "bytes on the wire"):
                assert name in saved, f"the downloaded SVG lacks {name}"  # one picture: names above the rows
            page.screenshot(path=str(tmp_path / f"sequence-{ui}.png"), full_page=True)

            # a reloaded page draws the whole diagram from the widget's synced state (no kernel round trip)
            page.reload()
            page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-CodeCell .cm-content", timeout=seconds(60) * 1000)
            accept_kernel(page)
            again = page.locator(f"{PANEL} .duplexlab-seq").first
            again.scroll_into_view_if_needed(timeout=seconds(30) * 1000)
            page.wait_for_function(
                "([el, n]) => el.querySelectorAll('svg g.arrow').length >= n",
                arg=[again.element_handle(), len(HTTP_ARROWS)],
                timeout=seconds(20) * 1000,
            )
            assert arrow_labels(again) == HTTP_ARROWS
