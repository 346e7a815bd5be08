"""The course as a class sees it: every notebook, Run All in JupyterLab in Chromium, then its widgets.

One JupyterLab server (on a copy of ``notebooks/``, so autosave never writes
outputs into the repository) serves every test of this module. After Run All
a test checks what a person sees: no error output except in cells tagged
``raises-exception``, every widget rendered, every plot drawn at a size, and
then the lesson's own interactive step. Screenshots of failures are kept
(``$DUPLEXLAB_SCREENSHOTS``, default the temp folder).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    PROJECTOR,
    chromium_context,
    code_cell,
    jupyter_lab,
    open_in_lab,
    run_all,
    run_one,
    saved_notebook,
    screenshot_on_failure,
)
from .conftest import seconds

pytestmark = NEEDS_CHROMIUM

COURSE = Path(__file__).parent.parent / "notebooks"
# the students' lessons, then the teacher's notebook (solutions are run headless, in test_notebooks)
NOTEBOOKS = sorted(p.name for p in COURSE.glob("*.ipynb")) + ["teachers/classroom.ipynb"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A JupyterLab server on a copy of the course; yields (folder, base URL, token)."""
    folder = tmp_path_factory.mktemp("course")
    for name in NOTEBOOKS:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(COURSE / name, folder / name)
    with jupyter_lab(folder) as (base, token):
        yield folder, base, token


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
    images = page.locator(f"{PANEL} .jp-OutputArea img")
    for k in range(images.count()):
        image = images.nth(k)
        image.scroll_into_view_if_needed()
        size = image.evaluate("el => [el.naturalWidth, el.clientWidth, el.clientHeight]")
        assert size[0] > 0 and size[1] > 0 and size[2] > 0, f"image {k} drawn as {size}"


def drag_first_slider(page, widget, pixels: int = 40) -> None:
    """Drag the widget's first slider a little to the right with the mouse, as a person does."""
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels / 2, y, steps=4)
    page.mouse.move(x + pixels, y, steps=4)
    page.mouse.up()


def step_02(page) -> None:
    """A slider move re-runs the polling experiment and draws a new plot inside the widget."""
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
    image = widget.locator("img")
    before = image.get_attribute("src")
    drag_first_slider(page, widget)
    widget.locator(".widget-html-content", has_text="run 1").wait_for(timeout=seconds(20) * 1000)
    page.wait_for_function(
        "([el, old]) => el.src !== old", arg=[image.element_handle(), before], timeout=seconds(10) * 1000
    )
    image.scroll_into_view_if_needed()
    size = image.evaluate("el => [el.naturalWidth, el.clientWidth, el.clientHeight]")
    assert min(size) > 0, f"the new plot is drawn as {size}"


def step_05(page) -> None:
    """The browser's socket opened under Run All, got Asha's message, closes on unmount."""
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
    deadline = time.monotonic() + seconds(10)
    while "closed with 1000 'unmount'" not in (report := run_one(page, "browser.report()")):
        assert time.monotonic() < deadline, report
        time.sleep(0.5)


def step_06(page) -> None:
    """After Run All (the arena stays up), a slider move produces events and new plots."""
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
    image = widget.locator("img")
    before = image.get_attribute("src")
    status = widget.locator(".widget-html-content")
    runs_before = status.first.text_content()
    drag_first_slider(page, widget)
    page.wait_for_function(
        "([el, old]) => el.textContent !== old && /run \\d+/.test(el.textContent)",
        arg=[status.first.element_handle(), runs_before],
        timeout=seconds(30) * 1000,
    )
    text = status.first.text_content()
    events = int(text.split(":")[1].split()[0])
    assert events > 0, text
    page.wait_for_function(
        "([el, old]) => el.src !== old", arg=[image.element_handle(), before], timeout=seconds(10) * 1000
    )
    image.scroll_into_view_if_needed()
    assert min(image.evaluate("el => [el.naturalWidth, el.clientWidth, el.clientHeight]")) > 0


def step_00(page) -> None:
    """The lesson's intended error (a 404) shows as one short line with its hint."""
    error = code_cell(page, 'client.get("/api/notifications/12345")')
    text = error.locator(".jp-OutputArea").text_content()
    assert "404" in text and "hint" in text, text
    assert len(text.strip().splitlines()) <= 2, text


def step_07(page) -> None:
    """After Run All the diagram holds the lesson's own cut and the resume after it; the fault controls
    act on a live client, whose state and counts they show; the next cell still answers in seconds
    after a cut and after the server's side is dropped."""
    diagram = page.locator(f"{PANEL} .duplexlab-seq").last
    diagram.scroll_into_view_if_needed()
    expect(diagram.locator("svg g.kind-cut")).to_have_count(1, timeout=seconds(10) * 1000)
    labels = diagram.locator("svg g.arrow").evaluate_all("gs => gs.map(g => g.getAttribute('data-label'))")
    resumed = [label for label in labels if label.startswith("GET /stream/scores?last=")]
    assert len(resumed) == 2 and resumed[0].endswith("last=-1") and not resumed[1].endswith("=-1"), labels
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
    widget.locator("button", has_text="Drop server side").click()
    widget.locator(".widget-html-content", has_text="dropped the server side of 1").wait_for(timeout=seconds(5) * 1000)
    client_line.filter(has_text=f"{before + 2} connection(s)").filter(has_text="client: connected").wait_for(
        timeout=seconds(15) * 1000
    )
    t0 = time.monotonic()
    out = run_one(page, 'lab.publish("scores", {"ball": "one more"})')
    assert time.monotonic() - t0 < seconds(8), out
    assert "<ResilientClient connected" in out, out


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
    "02-polling.ipynb": step_02,
    "05-chat-and-notifications.ipynb": step_05,
    "06-side-by-side.ipynb": step_06,
    "07-keeping-websockets-alive.ipynb": step_07,
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
