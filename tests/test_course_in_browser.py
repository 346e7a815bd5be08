"""The course as a class sees it: every notebook, Run All in JupyterLab in Chromium, then its widgets.

One JupyterLab server (on a copy of ``notebooks/``, so autosave never writes
outputs into the repository) serves every test of this module. After Run All
a test checks what a person sees: no error output except in cells tagged
``raises-exception``, every widget rendered, every plot drawn at a size, and
then the lesson's own interactive step. Screenshots of failures are kept
(``$DUPLEXLAB_SCREENSHOTS``, default the temp folder).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from html import unescape
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    PROJECTOR,
    chromium_context,
    code_cell,
    course_in_lab,
    js_cell,
    open_in_lab,
    run_all,
    run_one,
    saved_notebook,
    screenshot_on_failure,
)
from .helpers import seconds, wait_for

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

COURSE = Path(__file__).parent.parent / "notebooks"
# the students' lessons, then the teacher's notebook (solutions are run headless, in test_notebooks)
NOTEBOOKS = sorted(p.name for p in COURSE.glob("*.ipynb")) + ["teachers/classroom.ipynb"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A JupyterLab server on a copy of the course; yields (folder, base URL, token)."""
    with course_in_lab(tmp_path_factory.mktemp("course"), NOTEBOOKS) as course:
        yield course


@pytest.fixture(scope="module")
def browser(course):
    """One Chromium for the module, at a classroom projector's 1366×900."""
    with chromium_context(course[0], viewport=PROJECTOR) as context:
        yield context


def assert_what_the_class_sees(page, model: dict) -> None:
    """No unintended error, every cell run, widgets rendered, every image drawn at a size."""
    for k, c in enumerate(model["cells"]):
        if c["cell_type"] != "code":
            continue
        assert c["execution_count"] is not None, f"cell {k} did not run"
        tags = c.get("metadata", {}).get("tags", [])
        for out in c["outputs"]:
            if out["output_type"] == "error" and "raises-exception" not in tags:
                raise AssertionError(f"cell {k} failed: {out['ename']}: {out['evalue']}")
    text = page.locator(PANEL).text_content()
    for broken in ("Loading widget", "Error displaying widget", "model not found"):
        assert broken not in text, broken
    look_at_every_image(page)
    assert_alts_say_what_was_printed(model)


# An inline plot's alt holds the numbers a cell printed: (the plot's cell, the printing cell, what to read
# from its output). The widgets' plots are checked in their lessons' steps (02, 06).
PRINTED_IN_ALT = [
    ("dl.plots.bytes_split(counts)", "print(counts)", r"(\d+) bytes (?:up|down)"),
    ("dl.plots.timeline(created, requests, learned", "for note_id, t_seen in learned.items()", r"waited +(\d+) ms"),
    ("dl.plots.timeline(created, [(r.t_sent", "late = max(", r"at most ([\d.]+) ms"),
    ("dl.plots.keepalive(settings, measured)", "dl.plots.keepalive(settings, measured)", r"noticed after ([\d.]+) s"),
    ("dl.plots.resume(published", "for client in (resuming, naive):", r"(\d+) of 200"),
]


def assert_alts_say_what_was_printed(model: dict) -> None:
    """Each inline plot's text alternative (its text/plain, the HTML's alt) has the numbers printed next to it."""

    def source(c) -> str:
        return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]

    def printed(c) -> str:
        return "".join("".join(o.get("text", "")) for o in c["outputs"] if o["output_type"] == "stream")

    code = [c for c in model["cells"] if c["cell_type"] == "code"]
    for plotted, printing, pattern in PRINTED_IN_ALT:
        plot_cell = next((c for c in code if plotted in source(c)), None)
        print_cell = next((c for c in code if printing in source(c)), None)
        if plot_cell is None or print_cell is None:
            continue  # not this lesson
        alts = [
            "".join(o["data"]["text/plain"])
            for o in plot_cell["outputs"]
            if "image/png" in o.get("data", {}) and "duplexlab-plot" in "".join(o["data"].get("text/html", ""))
        ]
        assert len(alts) == 1, f"{plotted}: {len(alts)} plots shown (one, with its alt, is right)"
        html = "".join(next(o for o in plot_cell["outputs"] if "image/png" in o.get("data", {}))["data"]["text/html"])
        numbers = re.findall(pattern, printed(print_cell))
        assert numbers, (pattern, printed(print_cell))
        for number in numbers:
            assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", alts[0]), (number, alts[0])
        assert f'alt="{alts[0]}"' in unescape(html), "the <img>'s alt is the same text"


SCREENSHOTS = Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", tempfile.gettempdir()))
SCROLLER = f"{PANEL} .jp-WindowedPanel-outer"  # the notebook panel's own scroll box (JupyterLab, Notebook 7)

# every output image with what a person sees of it now: its key (cell index / image index), sizes,
# alt, whether it is one of our plots, and whether it is in view (inside the panel and the window)
IMAGES_NOW = f"""() => {{
    const box = document.querySelector('{SCROLLER}').getBoundingClientRect();
    const top = Math.max(box.top, 0), bottom = Math.min(box.bottom, window.innerHeight);
    const cells = [...document.querySelectorAll('{PANEL} .jp-Cell')];
    return [...document.querySelectorAll('{PANEL} .jp-OutputArea img')].map((el, index) => {{
        const cell = el.closest('.jp-Cell');
        const inCell = [...cell.querySelectorAll('.jp-OutputArea img')].indexOf(el);
        // in view: the output that holds it (a collapsed image's own box may sit anywhere, even at 0, 0)
        const r = (el.closest('.jp-OutputArea-output') || el).getBoundingClientRect();
        return {{
            key: (cell.dataset.windowedListIndex ?? cells.indexOf(cell)) + '/' + inCell, index,
            nw: el.naturalWidth, cw: el.clientWidth, ch: el.clientHeight, alt: el.getAttribute('alt'),
            src: !!el.getAttribute('src'), complete: el.complete, hidden: getComputedStyle(el).display === 'none',
            ours: !!el.closest('.duplexlab-plot'), textPt: Number(el.dataset.textPt || 0),
            inView: r.bottom > top && r.top < bottom && r.right > box.left && r.left < box.right,
        }};
    }});
}}"""


def scroll_panel(page, *, to: float | None = None, by: float | None = None) -> bool:
    """Scroll the notebook panel itself, as a reader does (not the element); says whether it moved."""
    return page.evaluate(
        """([sel, to, by]) => { const o = document.querySelector(sel); const before = o.scrollTop;
           if (to !== null) o.scrollTop = to; if (by !== null) o.scrollTop += by; return o.scrollTop !== before; }""",
        [SCROLLER, to, by],
    )


def scroll_to_heading(page, text: str) -> None:
    """Scroll the panel down from the top until the heading ``text`` sits near the top of the view."""
    scroll_panel(page, to=0)
    where = f"""(t) => {{ const h = [...document.querySelectorAll('{PANEL} h1, {PANEL} h2, {PANEL} h3')]
                            .find((h) => h.textContent.includes(t));
                        return h ? h.getBoundingClientRect().top - document.querySelector('{SCROLLER}')
                            .getBoundingClientRect().top : null; }}"""
    for _ in range(400):
        time.sleep(0.25)
        top = page.evaluate(where, text)
        if top is not None and 0 <= top < 150:
            time.sleep(1.0)  # as a person pauses to look
            return
        if not scroll_panel(page, by=min(250, top - 60) if top is not None and top > 60 else 250):
            break
    raise AssertionError(f"could not scroll to the heading {text!r}")


def assert_drawn_when_looked_at(page, key: str) -> None:
    """An image measured at zero size as its output came into view: bring the output's top near the top
    of the panel, wait 1.5 s as a person looks, and measure again; still nothing drawn: fail, with a
    screenshot of what the class sees there."""
    scroll_panel(
        page,
        by=page.evaluate(
            f"""(key) => {{
            const im = ({IMAGES_NOW})().find((im) => im.key === key);
            const el = [...document.querySelectorAll('{PANEL} .jp-OutputArea img')][im.index];
            const holder = el.closest('.jp-OutputArea-output') || el;
            return holder.getBoundingClientRect().top - document.querySelector('{SCROLLER}')
                .getBoundingClientRect().top - 100; }}""",
            key,
        ),
    )
    time.sleep(1.5)
    now = next(im for im in page.evaluate(IMAGES_NOW) if im["key"] == key)
    if now["cw"] == 0 or now["ch"] == 0:
        path = SCREENSHOTS / f"duplexlab-image-{key.replace('/', '-')}-collapsed.png"
        page.screenshot(path=str(path))
        raise AssertionError(f"image {key} is in view but drawn as {now} (screenshot: {path})")


def look_at_every_image(page, *, step: int = 250) -> dict[str, dict]:
    """Scroll the notebook panel from top to bottom in steps, waiting at each, and measure every output
    image while it is in view: one that has loaded (``naturalWidth > 0``) but shows at a zero size is a
    plot the class does not see. Every image must load, show at a size and carry an alt; our plots'
    alts hold numbers, and our plots are not shrunk (their text stays the size drawn). Returns the
    last in-view measurement of each image by key."""
    scroll_panel(page, to=0)
    seen: dict[str, dict] = {}
    for _ in range(2000):
        time.sleep(0.25)
        for im in page.evaluate(IMAGES_NOW):
            if not im["inView"] or im["hidden"] or not im["src"]:
                continue
            if im["nw"] > 0 and (im["cw"] == 0 or im["ch"] == 0):
                assert_drawn_when_looked_at(page, im["key"])
            if im["nw"] > 0 or im["complete"]:
                seen[im["key"]] = im
        if not scroll_panel(page, by=step):
            break
    for key, im in seen.items():
        assert im["nw"] > 0, f"image {key} never loaded: {im}"
        assert (im["alt"] or "").strip(), f"image {key} has no text alternative: {im}"
        if im["ours"]:
            assert re.search(r"\d", im["alt"]), f"plot {key}'s alt has no numbers: {im['alt']!r}"
            assert im["cw"] >= 0.95 * im["nw"], f"plot {key} is shrunk to {im['cw']} of {im['nw']} px: its text too"
    return seen


def drag_first_slider(page, widget, pixels: int = 40) -> None:
    """Drag the widget's first slider a little to the right with the mouse, as a person does; a drag that
    left its value as it was (the page was still settling after Run All) is made again, as a person would."""
    handle = widget.locator(".widget-slider .noUi-handle").first
    readout = widget.locator(".widget-slider .widget-readout").first
    before = readout.text_content()
    for attempt in range(3):
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + pixels / 2, y, steps=4)
        page.mouse.move(x + pixels, y, steps=4)
        page.mouse.up()
        try:
            page.wait_for_function(
                "([el, old]) => el.textContent !== old",
                arg=[readout.element_handle(), before],
                timeout=seconds(3) * 1000,
            )
            return
        except Exception:
            if attempt == 2:
                raise


def step_02(page) -> None:
    """After Run All the widget's plot says the numbers the sweep printed (its alt and its numbers table)
    and is drawn inside the widget at *Turn the knobs* (screenshot kept: duplexlab-02-turn-the-knobs.png);
    a slider move re-runs the experiment and draws a new plot there, seen after scrolling to it."""
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
    image = widget.locator("img.duplexlab-plot-img")
    printed = code_cell(page, "results = experiment.sweep(").locator(".jp-OutputArea").text_content()
    assert_the_plot_says_the_sweep(widget, printed)
    scroll_to_heading(page, "Turn the knobs")
    assert_in_view_and_drawn(page, image)
    ui = "-notebook7" if "/notebooks/" in page.url else ""
    shot = SCREENSHOTS / f"duplexlab-02-turn-the-knobs{ui}.png"
    page.screenshot(path=str(shot))
    print(f"02's Turn the knobs after Run All: {shot}")
    numbers = widget.locator("details.duplexlab-numbers")
    numbers.locator("summary").focus()
    page.keyboard.press("Enter")  # the disclosure opens from the keyboard
    expect(numbers.locator("table")).to_be_visible(timeout=seconds(5) * 1000)
    page.screenshot(path=str(SCREENSHOTS / f"duplexlab-02-show-the-numbers{ui}.png"))
    before = image.get_attribute("src")
    drag_first_slider(page, widget)
    widget.locator(".widget-html-content", has_text="run 1").wait_for(timeout=seconds(20) * 1000)
    page.wait_for_function(
        "([el, old]) => el.src !== old", arg=[image.element_handle(), before], timeout=seconds(10) * 1000
    )
    assert_in_view_and_drawn(page, image)
    assert "Ringed: this run" in image.get_attribute("alt")
    assert_code_logged(page, "const interval = 200;", "hello after")


def results_printed(printed: str) -> list[dict[str, str]]:
    """The sweep's results as ``print(result)`` shows them (on one line or two)."""

    def find(pattern: str, chunk: str) -> tuple[str, ...]:
        found = re.search(pattern, chunk)
        assert found is not None, (pattern, chunk)
        return found.groups()

    results = []
    for chunk in re.split(r"(?=every [\d.]+ s, judge)", printed):
        if not re.match(r"every [\d.]+ s, judge", chunk):
            continue
        delay, theory = find(r"detection delay (\d+) ms \(theory (\d+) ms\)", chunk)
        results.append(
            {
                "interval": find(r"every ([\d.]+) s", chunk)[0],
                "polls": find(r"([\d.]+) polls each", chunk)[0],
                "delay": delay,
                "theory": theory,
                "bytes": find(r"(\d+) bytes each", chunk)[0],
            }
        )
    return results


def assert_the_plot_says_the_sweep(widget, printed: str) -> None:
    """The alt names the first and last results' numbers; the numbers table has a row per result."""
    results = results_printed(printed)
    assert len(results) == 4, printed
    alt = widget.locator("img.duplexlab-plot-img").get_attribute("alt")
    first, last = results[0], results[-1]
    for part in (
        f"{first['polls']} at {first['interval']} s",
        f"{last['polls']} at {last['interval']} s",
        f"from {first['delay']} ms to {last['delay']} ms",
        f"theory {first['theory']} to {last['theory']} ms",
        f"from {first['bytes']} to {last['bytes']}",
    ):
        assert part in alt, (part, alt, printed)
    rows = widget.locator("details.duplexlab-numbers tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))"
    )
    by_interval = {row[0]: row for row in rows}
    for r in results:
        row = by_interval[r["interval"]]
        assert (row[1], row[4], row[5], row[6]) == (r["polls"], r["delay"], r["theory"], r["bytes"]), (row, r)


def assert_in_view_and_drawn(page, image) -> None:
    """Scroll the panel (as a reader does) until ``image`` is in view, wait, and measure it there."""
    where = f"""el => {{ const box = document.querySelector('{SCROLLER}').getBoundingClientRect();
                        const r = el.getBoundingClientRect();
                        return [r.top - box.top, r.bottom - box.top, box.height]; }}"""
    for _ in range(100):
        top, bottom, height = image.evaluate(where)
        if top >= 0 and top < height - 100:
            break
        scroll_panel(page, by=max(-250, min(250, top - 100)))
        time.sleep(0.25)
    time.sleep(0.5)
    size = image.evaluate("el => [el.naturalWidth, el.clientWidth, el.clientHeight]")
    assert min(size) > 0, f"the plot is in view but drawn as {size}"


def assert_code_logged(page, code: str, *texts: str, timeout: float = 20) -> None:
    """The dl.show.BrowserCode whose JavaScript contains ``code`` ran in the page under Run All:
    each of ``texts`` is (part of) a line of its log, in that order."""
    log = js_cell(page, code).locator(".duplexlab-code-log")
    for text in texts:
        log.locator("li", has_text=text).first.wait_for(state="attached", timeout=seconds(timeout) * 1000)
    lines = log.locator("li").all_text_contents()
    where = [next(i for i, line in enumerate(lines) if text in line) for text in texts]
    assert where == sorted(where), lines


def step_01(page) -> None:
    """The page's own fetch of Asha's panel ran under Run All."""
    assert_code_logged(page, '"/api/users/asha/notifications"', "status 200", "Ravi sent you a message")


def step_03(page) -> None:
    """The page's EventSource got an event, lost the stream at the tap's cut, reconnected with
    Last-Event-ID on its own and got the event sent during the cut; a stream that ends (?until=) is
    answered 204 at the reconnect, and the page's EventSource closes for good."""
    assert_code_logged(
        page, "/api/users/kabir/events", "connected", "before the cut", "lost: the browser reconnects", "during the cut"
    )
    printed = code_cell(page, "stream.wait_for(").locator(".jp-OutputArea").text_content()
    assert "Last-Event-ID" in printed, printed
    # the stream that ends: its reconnect gets 204, and the browser's EventSource closes for good
    assert_code_logged(page, "?until=", "event", "the last one", "error, readyState 2 (closed: it stops)")
    printed = code_cell(page, 'ending.wait_for(lambda: "204').locator(".jp-OutputArea").text_content()
    assert "204 No Content" in printed, printed


def step_05(page) -> None:
    """The page's fetch-then-subscribe ran under Run All (pushed news, then 1006 at the tap's cut); edited and
    run again, the diagram under it shows the new request. The browser's socket opened under Run All, got
    Asha's message, closes on unmount."""
    effect = 'const user = "ishaan";'
    assert_code_logged(page, effect, "fetched", "open, readyState 1", "pushed: Meera accepted", "closed 1006")
    widget = js_cell(page, effect)
    text = widget.locator(".duplexlab-code-text")
    text.fill(text.input_value().replace("ishaan", "ravi"))  # the student edits the snippet
    widget.locator(".duplexlab-code-run").click()
    widget.locator(".duplexlab-code-log li", has_text=re.compile(r"run 2 · .* open, readyState 1")).wait_for(
        state="attached", timeout=seconds(20) * 1000
    )
    diagram = widget.locator(".duplexlab-seq")
    page.wait_for_function(
        "el => [...el.querySelectorAll('svg g.arrow')].some(g => (g.getAttribute('data-label') || '')"
        ".startsWith('GET /notifications/ravi'))",
        arg=diagram.element_handle(),
        timeout=seconds(10) * 1000,
    )
    waited = code_cell(page, "browser.wait_open()").locator(".jp-OutputArea").text_content()
    assert "the browser's socket is open" in waited, waited
    listed = code_cell(page, "lab.ws_connections").locator(".jp-OutputArea").text_content()
    assert "/chat?name=browser" in listed, listed
    widget = code_cell(page, "dl.widgets.BrowserSocket(lab")
    widget.locator(".duplexlab-socket-log li", has_text="Hello, browser!").wait_for(timeout=seconds(5) * 1000)
    check = code_cell(page, "dl.check.no_sockets_left").locator(".jp-OutputArea").text_content()
    assert "✓" in check and "widgets still showing" in check, check
    widget.locator(".duplexlab-socket").click(button="right")
    page.get_by_role("menuitem", name="Clear Cell Output").click()
    reports: list[str] = []

    def unmounted() -> bool:
        reports.append(run_one(page, "browser.report()"))
        return "closed with 1000 'unmount'" in reports[-1]

    wait_for(unmounted, timeout=10, why=lambda: reports[-1], interval=0.5)


def step_06(page) -> None:
    """After Run All (the arena stays up), the classroom's plot says the numbers its cell printed; a
    slider move produces events and new plots, seen after scrolling to them; run again, the side by
    side's cell prints a table whose numbers the plot above it says."""
    room = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").nth(1)
    printed = code_cell(page, "runs = room.measure(100)").locator(".jp-OutputArea").text_content()
    assert_the_plot_says_the_table(room.locator("img.duplexlab-plot-img"), printed)
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
    image = widget.locator("img.duplexlab-plot-img")
    before = image.get_attribute("src")
    status = widget.locator(".widget-html-content")
    runs_before = status.first.text_content()
    drag_first_slider(page, widget)
    page.wait_for_function(
        "([el, old]) => el.textContent !== old && /run \\d+: \\d+ events/.test(el.textContent)",
        arg=[status.first.element_handle(), runs_before],
        timeout=seconds(30) * 1000,
    )  # "run 2: measuring…" first, then "run 2: 52 events (seed 2027)"
    text = status.first.text_content()
    events = int(text.split(":")[1].split()[0])
    assert events > 0, text
    page.wait_for_function(
        "([el, old]) => el.src !== old", arg=[image.element_handle(), before], timeout=seconds(10) * 1000
    )
    assert_in_view_and_drawn(page, image)
    printed = run_one(page, "result = side.run()")
    page.wait_for_function(
        "([el, p50]) => el.alt.includes(p50)",
        arg=[image.element_handle(), f"polling {table_printed(printed)['polling']} ms"],
        timeout=seconds(10) * 1000,
    )
    assert_the_plot_says_the_table(image, printed)


def table_printed(printed: str) -> dict[str, str]:
    """Each transport's median delay as ``result.table()`` prints it."""
    rows = re.findall(r"^(polling|long polling|SSE|WebSocket) +([\d.]+) ms", printed, re.MULTILINE)
    assert len(rows) == 4, printed
    return dict(rows)


def assert_the_plot_says_the_table(image, printed: str) -> None:
    """The plot's alt names each transport's median delay as the table printed it."""
    alt = image.get_attribute("alt")
    for name, p50 in table_printed(printed).items():
        assert f"{name} {p50} ms" in alt, (name, p50, alt, printed)


def step_00(page) -> None:
    """The lesson's intended error (a 404) shows as one short line with its hint."""
    error = code_cell(page, 'client.get("/api/notifications/12345")')
    text = error.locator(".jp-OutputArea").text_content()
    assert "404" in text and "hint" in text, text
    assert len(text.strip().splitlines()) <= 2, text


# whether the diagram's last break of ``kind`` is whole in its view (under the names, above its bottom)
LAST_BREAK_IN_VIEW = """([box, kind]) => {
    const marks = box.querySelectorAll('svg.duplexlab-seq-svg g.' + kind), mark = marks[marks.length - 1];
    const scroller = box.querySelector('.duplexlab-seq-scroll');
    if (!mark || !scroller.clientHeight) return false;
    const names = box.querySelector('.duplexlab-seq-names').getBoundingClientRect().bottom;
    const r = mark.getBoundingClientRect(), bottom = scroller.getBoundingClientRect().top + scroller.clientHeight;
    return r.top >= names - 1 && r.bottom <= bottom + 1;
}"""


def step_07(page) -> None:
    """After Run All, scrolled to *Break it yourself* as the class does, the diagram shows the lesson's own
    cut (pings folded, with their count) and the resume after it; the fault controls act on a live client,
    whose state and counts they show, and the diagram keeps each new break in view; the next cell still
    answers in seconds after a cut and after the server's side is dropped."""
    assert_code_logged(page, "let lastPong = Date.now();", "open", "no pong for 2 s")
    scroll_to_heading(page, "Break it yourself")
    diagram = page.locator(f"{PANEL} .duplexlab-seq").last
    expect(diagram.locator("svg g.kind-cut")).to_have_count(1, timeout=seconds(10) * 1000)
    labels = diagram.locator("svg g.arrow").evaluate_all("gs => gs.map(g => g.getAttribute('data-label'))")
    resumed = [label for label in labels if label.startswith("GET /stream/scores?last=")]
    assert len(resumed) == 2 and resumed[0].endswith("last=-1") and not resumed[1].endswith("=-1"), labels
    in_view = page.evaluate(LAST_BREAK_IN_VIEW, [diagram.element_handle(), "kind-cut"])
    assert in_view, "the lesson's cut is not in the diagram's view"
    expect(diagram.locator(".duplexlab-seq-status")).to_contain_text(re.compile(r"ping/pong folded: [1-9]"))
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(button:has-text('Cut now'))")
    widget.scroll_into_view_if_needed()
    client_line = widget.locator(".widget-html-content", has_text="client:")
    client_line.filter(has_text="connected").wait_for(timeout=seconds(10) * 1000)
    counted = re.search(r"(\d+) connection\(s\)", client_line.inner_text())
    assert counted and int(counted.group(1)) == 2, client_line.inner_text()
    before = int(counted.group(1))  # the first, and the one after the lesson's own cut
    widget.locator("button", has_text="Cut now").click()
    widget.locator(".widget-html-content", has_text="cut 1 connection(s)").wait_for(timeout=seconds(5) * 1000)
    client_line.filter(has_text=f"{before + 1} connection(s)").filter(has_text="client: connected").wait_for(
        timeout=seconds(10) * 1000
    )
    expect(diagram.locator("svg g.kind-cut")).to_have_count(2, timeout=seconds(5) * 1000)
    page.wait_for_function(LAST_BREAK_IN_VIEW, arg=[diagram.element_handle(), "kind-cut"], timeout=seconds(5) * 1000)
    widget.locator("button", has_text="Drop server side").click()
    widget.locator(".widget-html-content", has_text="dropped the server side of 1").wait_for(timeout=seconds(5) * 1000)
    page.wait_for_function(LAST_BREAK_IN_VIEW, arg=[diagram.element_handle(), "kind-drop"], timeout=seconds(5) * 1000)
    client_line.filter(has_text=f"{before + 2} connection(s)").filter(has_text="client: connected").wait_for(
        timeout=seconds(15) * 1000
    )
    t0 = time.monotonic()
    out = run_one(page, 'lab.publish("scores", {"ball": "one more"})')
    assert time.monotonic() - t0 < seconds(8), out
    assert "<ResilientClient connected" in out, out


def step_10(page) -> None:
    """After Run All the live diagram under the first cell shows Socket.IO's long poll, its 101 and frames
    (looked at: a screenshot); the chat cell run again (a teacher's "once more") adds a new session to it,
    and the packet table's five claims hold for that session."""
    scroll_to_heading(page, "A Socket.IO chat, through a tap")
    diagram = code_cell(page, "lab = dl.start()").locator(".duplexlab-seq")
    arrows = "el => [...el.querySelectorAll('svg g.arrow')].map(g => g.getAttribute('data-label') || '')"

    def labels() -> list[str]:
        return page.evaluate(arrows, diagram.element_handle())

    seen = labels()
    assert any(x.startswith("GET /socket.io/?transport=polling") for x in seen), seen
    assert "101 Switching Protocols" in seen and any(x.startswith("TEXT") for x in seen), seen
    diagram.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "duplexlab-10-diagram-after-run-all.png"))
    upgrades = seen.count("101 Switching Protocols")
    out = run_one(page, 'asha = lab.socketio_client(base_url=tap.url, name="asha")')
    assert "the ack: {'ok': True, 'to': 1}" in out and "Ravi got:" in out, out
    wait_for(lambda: labels().count("101 Switching Protocols") > upgrades, why=labels)
    page.screenshot(path=str(SCREENSHOTS / "duplexlab-10-diagram-chat-again.png"))
    table = run_one(page, "print(dl.engine_io.table(tap.capture()))")
    assert table.count("✓") == 5 and "✗" not in table, table


def step_classroom(page) -> None:
    """The dashboard after Run All: three students; a new join code shows; removing one leaves two."""
    board = page.locator(f"{PANEL} .duplexlab-dashboard")
    board.scroll_into_view_if_needed()
    table = board.locator(".duplexlab-dashboard-table")
    page.wait_for_function("el => el.querySelectorAll('tr').length === 4", arg=table.element_handle())
    before = board.locator("code").first.inner_text()
    board.locator("button", has_text="New join code").click()
    # the dashboard redraws every second, replacing its elements: follow the locator, not one element
    expect(board.locator("code").first).not_to_have_text(before, timeout=seconds(10) * 1000)
    board.locator("select").first.select_option("ravi")
    board.locator("button", has_text="Remove").click()  # it asks first
    board.locator("button", has_text="Remove ravi? Click again").wait_for(timeout=seconds(5) * 1000)
    assert "removed ravi" not in board.inner_text()
    board.locator("button", has_text="Remove ravi? Click again").click()
    board.locator(".widget-html-content", has_text="removed ravi").wait_for(timeout=seconds(10) * 1000)
    expect(board.locator("select").first).to_have_value("", timeout=seconds(5) * 1000)  # nobody picked next
    page.wait_for_function(
        "el => el.querySelectorAll('tr').length === 3",
        arg=board.locator(".duplexlab-dashboard-table").element_handle(),
        timeout=seconds(10) * 1000,
    )


STEPS = {
    "00-start-here.ipynb": step_00,
    "01-one-way-api.ipynb": step_01,
    "02-polling.ipynb": step_02,
    "03-long-polling-and-sse.ipynb": step_03,
    "05-chat-and-notifications.ipynb": step_05,
    "06-side-by-side.ipynb": step_06,
    "07-keeping-websockets-alive.ipynb": step_07,
    "10-socket-io.ipynb": step_10,
    "teachers/classroom.ipynb": step_classroom,
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_in_jupyterlab_shows_no_errors_and_every_plot(course, browser, name):
    """Run All in JupyterLab: every cell runs, no unintended error, widgets and plots visible;
    then the lesson's own interactive step works on what Run All left."""
    folder, base, token = course
    page = browser.new_page()
    try:
        with screenshot_on_failure(page, f"run-all-{name}"):
            open_in_lab(page, base, token, name)
            took = run_all(page)
            print(f"{name}: Run All in {took:.1f} s")
            model = saved_notebook(page, base, token, name)
            assert_what_the_class_sees(page, model)
            if name in STEPS:
                STEPS[name](page)
    finally:
        page.close()


@pytest.mark.parametrize(
    "name",
    [
        "02-polling.ipynb",
        "05-chat-and-notifications.ipynb",
        "07-keeping-websockets-alive.ipynb",
        "teachers/classroom.ipynb",
    ],
)
def test_run_all_in_notebook_7_then_the_lessons_step(course, browser, name):
    """The same in Notebook 7 for the lessons whose widgets matter most: Run All, then use them."""
    folder, base, token = course
    page = browser.new_page()
    try:
        with screenshot_on_failure(page, f"notebook7-{name}"):
            open_in_lab(page, base, token, name, ui="notebook")
            took = run_all(page)
            print(f"{name}: Run All in Notebook 7 in {took:.1f} s")
            model = saved_notebook(page, base, token, name)
            assert_what_the_class_sees(page, model)
            STEPS[name](page)
    finally:
        page.close()
