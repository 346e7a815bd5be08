"""The live sequence diagram as a person sees it: Run All in JupyterLab and in Notebook 7, in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    PROJECTOR,
    accept_kernel,
    chromium_context,
    jupyter_lab,
    open_in_lab,
    saved_notebook,
    screenshot_on_failure,
    write_notebook,
)
from .helpers import seconds, settled, wait_for

ROOT = Path(__file__).parent.parent
AXE = Path(os.environ.get("DUPLEXLAB_AXE") or ROOT / ".cache/axe/node_modules/axe-core/axe.min.js")
SCREENSHOTS = Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", tempfile.gettempdir()))
OUTER = f"{PANEL} .jp-WindowedPanel-outer"  # the notebook panel that scrolls
STARTED = f"""() => [...document.querySelectorAll('{PANEL} .jp-InputArea-prompt')]
                   .some((e) => /\\*|\\d/.test(e.textContent))"""
BUSY = f"""() => [...document.querySelectorAll('{PANEL} .jp-InputArea-prompt')].some((e) => e.textContent.includes('*'))
              || [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')]
                   .some((e) => e.dataset.status && e.dataset.status !== 'idle')"""


def start_run_all(page) -> None:
    """Run → Run All Cells on a freshly opened notebook, again until a cell has started: on a busy machine a
    fresh server's "Select Kernel" dialog can come late and eat the clicks (then nothing runs)."""
    for _ in range(4):
        accept_kernel(page)
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=seconds(10) * 1000)
            page.locator('li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click(
                timeout=seconds(10) * 1000
            )
            page.wait_for_function(STARTED, timeout=seconds(15) * 1000)
            return
        except Exception:
            continue
    raise AssertionError("Run All never started a cell")


def run_all_cells(page) -> None:
    """Run All, then wait until no cell runs or waits and the kernel has been idle for 2 s."""
    start_run_all(page)
    wait_for(settled(lambda: page.evaluate(BUSY), 2), timeout=240, why=lambda: "Run All did not finish", interval=0.1)


pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

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
            start_run_all(page)

            # while the loop cell runs (the cells before it done), the count grows: arrows arrive over
            # the comm as the requests happen, not when the cell ends
            ws_prompt = page.locator(f"{PANEL} .jp-CodeCell").nth(3).locator(".jp-InputArea-prompt")
            start, end = len(HTTP_ARROWS) - 2 * LOOPS, len(HTTP_ARROWS)
            counts_while_running: list[int] = []

            def loop_done() -> bool:
                if re.fullmatch(r"\[\d+\]:?", loop_prompt.inner_text().strip()):
                    return True
                if re.search(r"\d", ws_prompt.inner_text()) and "*" in loop_prompt.inner_text() and http.count():
                    count = len(arrow_labels(http))
                    if not counts_while_running or count != counts_while_running[-1]:
                        counts_while_running.append(count)
                return False

            wait_for(loop_done, timeout=120, why=lambda: "the looping cell did not finish", interval=0.1)
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
            # it followed the newest rows: the last one whole in view, and no row cut by the names above
            seen = http.evaluate(IN_VIEW)
            assert seen["rows"][-1] in seen["seen"] and seen["rows"][-1]["bottom"] <= seen["bottom"] + 1, seen
            assert not [r for r in seen["seen"] if r["top"] < seen["names"] - 1], seen
            assert len(seen["seen"]) < len(seen["rows"]), "the diagram should be taller than its box here"
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


def scroll_panel_to(page, widget, *, near: int = 90) -> None:
    """Scroll the notebook panel itself in steps, as a reader does, until ``widget``'s top sits ``near``
    px below the panel's top; then wait as a person pauses to look."""
    page.evaluate("sel => { document.querySelector(sel).scrollTop = 0; }", OUTER)
    for _ in range(400):
        time.sleep(0.25)
        top = page.evaluate(
            """([sel, outer]) => { const all = document.querySelectorAll(sel); const el = all[all.length - 1];
                   const panel = document.querySelector(outer).getBoundingClientRect();
                   return el ? el.getBoundingClientRect().top - panel.top : null; }""",
            [widget, OUTER],
        )
        if top is not None and abs(top - near) <= 40:
            break
        by = 250 if top is None else max(-250, min(250, top - near))
        moved = page.evaluate(
            "([sel, by]) => { const o = document.querySelector(sel); const b = o.scrollTop; o.scrollTop += by; "
            "return o.scrollTop !== b; }",
            [OUTER, by],
        )
        if not moved and top is not None:
            break
    else:
        raise AssertionError(f"could not scroll the notebook to {widget}")
    time.sleep(1.5)


# what the class sees of the (last) diagram: the visible band of rows (under the names, above the
# scroller's bottom), each row's extent, the cut's, the folded note, the text sizes, the box's fit
IN_VIEW = """(box) => {
    const scroller = box.querySelector('.duplexlab-seq-scroll').getBoundingClientRect();
    const names = box.querySelector('.duplexlab-seq-names').getBoundingClientRect();
    const bottom = scroller.top + box.querySelector('.duplexlab-seq-scroll').clientHeight;
    const rows = [...box.querySelectorAll('svg.duplexlab-seq-svg g.arrow, svg.duplexlab-seq-svg g.mark')].map((g) => {
        const a = g.getBoundingClientRect(), b = g.querySelector('text.label').getBoundingClientRect();
        return {label: g.dataset.label, cut: g.classList.contains('kind-cut'),
                top: Math.min(a.top, b.top), bottom: Math.max(a.bottom, b.bottom)};
    });
    const texts = [...box.querySelectorAll('svg text')].map((t) => parseFloat(getComputedStyle(t).fontSize));
    const area = box.closest('.jp-OutputArea').getBoundingClientRect(), r = box.getBoundingClientRect();
    return {names: names.bottom, bottom, rows,
            seen: rows.filter((x) => x.bottom > names.bottom && x.top < bottom),
            status: box.querySelector('.duplexlab-seq-status').textContent,
            pingTicked: box.querySelector('.duplexlab-seq-kind-control').checked,
            smallestSvgText: Math.min(...texts), barText: parseFloat(getComputedStyle(box).fontSize),
            fits: r.left >= area.left - 1 && r.right <= area.right + 1,
            barInside: [...box.querySelectorAll('.duplexlab-seq-bar > *')].every((c) => {
                const q = c.getBoundingClientRect(); return q.left >= r.left - 1 && q.right <= r.right + 1; })};
}"""


@pytest.mark.parametrize("mode", ["classroom", "projector", "zoom-150"])
def test_lesson_07_keeps_its_cut_in_view_with_pings_folded(tmp_path, mode):
    """Lesson 07 after Run All in JupyterLab, scrolled to *Break it yourself* as a person does: the
    lesson's cut and the rows around it are in the diagram's view, whole (no row under the names);
    ping/pong is folded with a visible count, and its tick shows them; hovering an arrow moves nothing
    below. With dl.projector() the diagram's text is 16 px or more; at 150 % zoom (a 911 px wide
    window at 1.5 device pixels per px) it still fits the output area. A screenshot of each is kept."""
    folder = tmp_path / "course"
    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    name = "07-keeping-websockets-alive.ipynb"
    if mode == "projector":  # the teacher turns it on right after starting the lab
        nb = nbformat.read(folder / name, as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if "lab = dl.start()" in c.source)
        nb.cells.insert(at + 1, new_code_cell("dl.projector()"))
        nbformat.write(nb, folder / name)
    viewport = {"width": 911, "height": 600} if mode == "zoom-150" else PROJECTOR
    args = ("--force-device-scale-factor=1.5",) if mode == "zoom-150" else ()
    with jupyter_lab(folder) as (base, token), chromium_context(folder, viewport=viewport, args=args) as context:
        page = context.new_page()
        with screenshot_on_failure(page, f"sequence-07-{mode}"):
            open_in_lab(page, base, token, name)
            run_all_cells(page)
            diagram = f"{PANEL} .duplexlab-seq"
            scroll_panel_to(page, diagram, near=40 if mode == "zoom-150" else 90)
            box = page.locator(diagram).last
            seen = box.evaluate(IN_VIEW)
            shot = SCREENSHOTS / f"duplexlab-sequence-07-{mode}.png"
            page.screenshot(path=str(shot))
            print(f"07 ({mode}): {shot}; rows in view: {[r['label'] for r in seen['seen']]}; {seen['status']!r}")

            cut = [r for r in seen["rows"] if r["cut"]]
            assert len(cut) == 1, seen["rows"]
            assert seen["names"] - 1 <= cut[0]["top"] and cut[0]["bottom"] <= seen["bottom"] + 1, (cut, seen)
            resumed = [r for r in seen["seen"] if re.search(r"\?last=\d+$", r["label"])]
            assert resumed, "the reconnect that asks for what it missed is not in view"
            assert not [r for r in seen["seen"] if r["top"] < seen["names"] - 1], "a row sits under the names"
            folded = re.search(r"ping/pong folded: (\d+)", seen["status"])
            assert folded and int(folded.group(1)) >= 1 and not seen["pingTicked"], seen["status"]
            assert not [r for r in seen["rows"] if r["label"].startswith(("PING", "PONG"))]
            if mode == "projector":
                assert seen["smallestSvgText"] >= 16 and seen["barText"] >= 16, seen
            else:
                assert seen["smallestSvgText"] >= 13, seen
            assert seen["fits"] and seen["barInside"], seen

            # hovering an arrow fills the details, whose height is fixed: the controls below stay put
            controls = page.locator(f"{PANEL} .jp-OutputArea-output:has(button:has-text('Cut now'))")
            detail = box.locator(".duplexlab-seq-detail")
            before = (detail.bounding_box()["height"], controls.bounding_box()["y"])
            box.locator("svg g.kind-cut").hover()
            expect_text = box.locator("svg g.kind-cut title").text_content()
            page.wait_for_function(
                "([el, t]) => el.textContent.startsWith(t)", arg=[detail.element_handle(), expect_text]
            )
            after = (detail.bounding_box()["height"], controls.bounding_box()["y"])
            assert after == before, (before, after)

            # the tick shows the pings (their rows drawn), and folds them again
            box.locator(".duplexlab-seq-kind-control").check()
            page.wait_for_function(
                "el => [...el.querySelectorAll('svg g.arrow')].some((g) => g.dataset.label.startsWith('PING'))",
                arg=box.element_handle(),
            )
            assert "ping/pong folded" not in box.locator(".duplexlab-seq-status").text_content()
            box.locator(".duplexlab-seq-kind-control").uncheck()
            assert "ping/pong folded" in box.locator(".duplexlab-seq-status").text_content()


A11Y_CELLS = (
    "import duplexlab as dl\nlab = dl.start()\ntap = lab.tap(lab.url)\n"
    "client, other = dl.Client(tap.url), dl.Client(tap.url)\nseq = tap.show()\nseq",
    "client.get('/api/health')\nclient.get('/api/users/asha/notifications')\nother.get('/api/health')",
    "print(seq.describe())\nprint(seq.text())",
)

# every text in the widget (HTML and SVG) against the paper under it: the ratios under 4.5:1
LOW_CONTRAST = """(box) => {
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => [r, g, b]
        .map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const paper = (el) => {
        for (let e = el; e; e = e.parentElement) {
            const c = rgb(getComputedStyle(e).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c;
        }
        return [255, 255, 255];
    };
    const low = [];
    for (const t of box.querySelectorAll('svg text, svg line, svg path')) {
        const cs = getComputedStyle(t), paint = t.tagName === 'text' ? cs.fill : cs.stroke;
        if (!paint.startsWith('rgb') || (rgb(paint).length === 4 && rgb(paint)[3] === 0)) continue;
        const r = ratio(rgb(paint), [255, 255, 255]);  // the diagram's paper is white, in any theme
        if (r < 4.5) low.push([t.tagName, t.textContent.slice(0, 30), paint, r.toFixed(2)]);
    }
    for (const e of box.querySelectorAll('*')) {
        if (e.closest('svg') || e.tagName === 'STYLE') continue;
        if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
        const r = ratio(rgb(getComputedStyle(e).color), paper(e));
        if (r < 4.5) low.push([e.tagName, e.textContent.slice(0, 30), getComputedStyle(e).color, r.toFixed(2)]);
    }
    return low;
}"""

FOCUS_NOW = """() => { const a = document.activeElement, cs = getComputedStyle(a);
    const label = a.getAttribute('aria-label') || (a.labels && a.labels[0] ? a.labels[0].textContent.trim() : '');
    return {cls: a.className || a.tagName, label: label || a.textContent.trim().slice(0, 20),
            inside: !!a.closest('.duplexlab-seq'),
            ring: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2};
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_diagram_is_named_described_readable_as_text_and_used_by_keyboard(tmp_path, theme):
    """After Run All: the SVG's <title> and <desc> say what the kernel says (describe()), with this run's
    counts; the text view lists exactly the kernel's text() lines, one per row, each the start of that
    row's hover details; every control has a name (axe-core finds no violation in the output); Tab
    reaches each control with a focus ring; the keyboard opens the text view and walks its rows, each
    shown in the details and boxed in the diagram; all text is 4.5:1 or more on its paper, in JupyterLab's
    light and dark themes."""
    name = write_notebook(tmp_path, "a11y.ipynb", *A11Y_CELLS)
    with jupyter_lab(tmp_path) as (base, token), chromium_context(tmp_path, viewport=PROJECTOR) as context:
        if theme == "dark":
            settings = tmp_path / ".settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings"
            settings.write_text('{"theme": "JupyterLab Dark"}')
        page = context.new_page()
        with screenshot_on_failure(page, f"sequence-a11y-{theme}"):
            open_in_lab(page, base, token, name)
            run_all_cells(page)
            if theme == "dark":
                assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
            printed = page.locator(f"{PANEL} .jp-CodeCell").nth(2).locator(".jp-OutputArea").inner_text()
            described, *lines = printed.strip().splitlines()
            assert described.startswith("2 connections; 6 arrows: 3 requests, 3 responses; "), described
            assert len(lines) == 6, printed
            box = page.locator(f"{PANEL} .duplexlab-seq")
            page.wait_for_function(
                "el => el.querySelectorAll('svg g.arrow').length === 6",
                arg=box.element_handle(),
                timeout=seconds(10) * 1000,
            )
            svg = box.get_by_role("img", name=re.compile(r"^Sequence diagram of http\S+ → http"))
            assert svg.locator("desc").text_content() == described + "; the text view lists every row"
            assert box.locator("svg g title").all_text_contents() == lines  # each row's tooltip: its line

            # every control is named (a <label for> or aria-label): what a screen reader announces
            for role, label in [
                ("combobox", "connection"),
                ("checkbox", "HTTP"),
                ("checkbox", "ping/pong"),
                ("checkbox", "ends, cuts"),
                ("spinbutton", "from (seconds)"),
                ("spinbutton", "to (seconds)"),
                ("combobox", "keep in view"),
                ("button", "Text view"),
                ("button", "Save SVG"),
                ("region", "sequence diagram (scrolls)"),
                ("region", "details of the chosen row"),
            ]:
                assert box.get_by_role(role, name=label, exact=True).count() == 1, (role, label)
            if AXE.is_file():
                page.add_script_tag(path=str(AXE))
                found = box.evaluate(
                    """async (el) => (await axe.run(el.closest('.jp-OutputArea'), {runOnly: {type: 'tag',
                        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']}))
                        .violations.map((v) => [v.id, v.impact, v.nodes.map((n) => n.html.slice(0, 120))])"""
                )
                assert found == [], found
            assert box.evaluate(LOW_CONTRAST) == []

            # Tab from the first control: each stop inside the diagram, named and ringed
            box.locator(".duplexlab-seq-lane").focus()
            stops = [page.evaluate(FOCUS_NOW)]
            for _ in range(12):
                page.keyboard.press("Tab")
                stops.append(page.evaluate(FOCUS_NOW))
            inside = [s for s in stops if s["inside"]]
            assert [s["label"] for s in inside] == [
                "connection",
                "HTTP",
                "SSE",
                "frames",
                "ping/pong",
                "ends, cuts",
                "from (seconds)",
                "to (seconds)",
                "keep in view",
                "Text view",
                "Save SVG",
                "sequence diagram (scrolls)",
                "details of the chosen row",
            ], stops
            assert all(s["ring"] for s in inside[1:]), inside  # a keyboard focus shows its ring

            # the keys work in the notebook (its command-mode shortcuts leave them to the diagram)
            count = "el => el.querySelectorAll('svg g.arrow').length"
            lane = box.locator(".duplexlab-seq-lane")
            lane.focus()
            page.keyboard.press("ArrowDown")  # one connection: conn 1's four arrows
            assert lane.input_value() == "1"
            page.wait_for_function(f"el => ({count})(el) === 4", arg=box.element_handle())
            page.keyboard.press("ArrowUp")
            page.wait_for_function(f"el => ({count})(el) === 6", arg=box.element_handle())
            box.locator(".duplexlab-seq-kind-http").focus()
            page.keyboard.press("Space")  # HTTP off: no arrow left
            page.wait_for_function(f"el => ({count})(el) === 0", arg=box.element_handle())
            page.keyboard.press("Space")
            page.wait_for_function(f"el => ({count})(el) === 6", arg=box.element_handle())

            # the text view: opened with Enter, one Tab stop, the arrow keys walk its rows
            button = box.get_by_role("button", name="Text view")
            button.focus()
            page.keyboard.press("Enter")
            assert button.get_attribute("aria-expanded") == "true"
            listbox = box.get_by_role("listbox")
            assert listbox.locator("[role=option]").all_text_contents() == lines
            detail = box.locator(".duplexlab-seq-detail")
            listbox.focus()
            page.keyboard.press("Home")
            page.keyboard.press("ArrowDown")
            active = listbox.get_attribute("aria-activedescendant")
            assert listbox.locator(f"[id='{active}']").text_content() == lines[1]
            assert listbox.locator("[aria-selected=true]").all_text_contents() == [lines[1]]
            assert detail.text_content().startswith(lines[1] + "\n") and "200 OK" in lines[1]
            assert "--- body" in detail.text_content(), detail.text_content()  # the bytes, as on hover
            assert box.locator("svg rect.duplexlab-seq-current").count() == 1  # the row, boxed in the diagram
            assert page.evaluate(FOCUS_NOW)["ring"]
            shot = SCREENSHOTS / f"duplexlab-sequence-text-view-{theme}.png"
            page.screenshot(path=str(shot))
            print(f"text view ({theme}): {shot}")
            page.keyboard.press("End")
            assert detail.text_content().startswith(lines[-1])
            page.keyboard.press("Escape")
            assert listbox.get_attribute("aria-activedescendant") is None
            assert box.locator("svg rect.duplexlab-seq-current").count() == 0
            assert page.evaluate(FOCUS_NOW)["inside"], "Escape took focus out of the diagram"
