"""Cells and sliders used again after Run All, in JupyterLab in Chromium at a projector's 1366×900, as a
teacher does in class: 06's rate slider dragged to its minimum (the page does not jump, the widget names
its run and has enough events), and 09's Predict run again (one line says what to run first; then the
devices cell and Predict show only A's device hearing the news). Screenshots are kept."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

import pytest

from duplexlab.show.widgets.arena import MIN_EVENTS

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    PROJECTOR,
    chromium_context,
    course_in_lab,
    open_in_lab,
    run_all,
    run_one,
    screenshot_on_failure,
)
from .helpers import wait_for

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

COURSE = Path(__file__).parent.parent / "notebooks"
SHOTS = Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", tempfile.gettempdir()))
SCROLLER = f"{PANEL} .jp-WindowedPanel-outer"  # the notebook panel's own scroll box

# where things are on the screen now: the panel's scroll, the side-by-side widget's box, its plot, its status
WHERE = f"""() => {{
    const o = document.querySelector('{SCROLLER}');
    const w = document.querySelector('{PANEL} .jp-OutputArea-output:has(.widget-slider)');
    const img = w.querySelector('img');
    const r = w.getBoundingClientRect(), i = img ? img.getBoundingClientRect() : null;
    return {{scroll: Math.round(o.scrollTop), top: Math.round(r.top), height: Math.round(r.height),
             plotTop: i && Math.round(i.top), plotHeight: i && Math.round(i.height),
             status: [...w.querySelectorAll('.widget-html-content')].map(e => e.innerText).join(' | ')}};
}}"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A JupyterLab server on a copy of the two lessons; yields (folder, base URL, token)."""
    lessons = ("06-side-by-side.ipynb", "09-more-than-one-server.ipynb", "glossary.md")
    with course_in_lab(tmp_path_factory.mktemp("course"), lessons) as course:
        yield course


@pytest.fixture(scope="module")
def browser(course):
    with chromium_context(course[0], viewport=PROJECTOR) as context:
        yield context


def scroll_until_widget_near_top(page) -> None:
    """Scroll the notebook panel itself in steps, as a reader does, until the widget sits near the top."""
    page.evaluate(f"document.querySelector('{SCROLLER}').scrollTop = 0")
    for _ in range(200):
        time.sleep(0.25)
        if page.evaluate(WHERE)["top"] < 260:
            time.sleep(1.5)  # as a person pauses to look
            return
        page.evaluate(f"document.querySelector('{SCROLLER}').scrollTop += 150")
    raise AssertionError(f"the widget never came near the top: {page.evaluate(WHERE)}")


def test_06_slider_dragged_to_its_minimum_does_not_move_the_page(course, browser):
    """After Run All the widget names the run whose table Predict printed. Dragging the rate slider to its
    minimum runs once, when let go; while dragged and while it runs, the panel does not scroll and the
    widget and its plot keep their place and height; the new run has at least MIN_EVENTS events, and
    the status names it."""
    folder, base, token = course
    page = browser.new_page()
    try:
        with screenshot_on_failure(page, "rerun-06-drag"):
            open_in_lab(page, base, token, "06-side-by-side.ipynb")
            print(f"06: Run All in {run_all(page):.1f} s")
            scroll_until_widget_near_top(page)
            before = page.evaluate(WHERE)
            page.screenshot(path=str(SHOTS / "duplexlab-06-before-drag.png"))
            table = page.locator(f"{PANEL} .jp-CodeCell", has_text="result = side.run()")
            heading = table.locator(".jp-OutputArea").inner_text().splitlines()[0]
            named = re.match(r"run \d+: \d+ events \(seed \d+\)", before["status"])
            assert named and heading.startswith(named.group(0) + ","), (before["status"], heading)
            assert before["plotHeight"] and before["plotHeight"] > 100, before

            handle = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider) .noUi-handle").first
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            seen = []
            for k in range(10):  # a slow drag to the far left, well past the slider's start
                page.mouse.move(x - 40 * (k + 1), y, steps=3)
                time.sleep(0.15)
                seen.append(page.evaluate(WHERE))
            page.screenshot(path=str(SHOTS / "duplexlab-06-while-dragging.png"))
            page.mouse.up()

            def second_run_done() -> bool:
                seen.append(page.evaluate(WHERE))
                return bool(re.search(r"run 2: \d+ events", seen[-1]["status"]))

            wait_for(second_run_done, timeout=60, why=lambda: seen[-1], interval=0.1)
            time.sleep(1.0)
            after = page.evaluate(WHERE)
            seen.append(after)
            page.screenshot(path=str(SHOTS / "duplexlab-06-after-drag.png"))
            print("06 before the drag:", json.dumps(before))
            print("06 after the drag: ", json.dumps(after))
            print(f"screenshots: {SHOTS}/duplexlab-06-{{before-drag,while-dragging,after-drag}}.png")

            place = ("scroll", "top", "height", "plotTop", "plotHeight")
            moved = [s for s in seen if any(s[k] != before[k] for k in place)]
            assert not moved, f"the page moved while the slider was dragged or ran: {before} then {moved[:3]}"
            statuses = {s["status"].split("|")[0] for s in seen[:10]}
            assert all("run 1:" in s for s in statuses), f"a run started while the slider was dragged: {statuses}"
            run2 = re.search(r"run 2: (\d+) events", after["status"])
            assert run2 is not None, after
            events = int(run2.group(1))
            assert events >= MIN_EVENTS, after
            assert f"at least {MIN_EVENTS} events" in after["status"], after
    finally:
        page.close()


def test_09_predict_run_again_after_run_all(course, browser):
    """After Run All, Predict (whose devices' servers a later cell stopped) says in one line what to run
    first, without a traceback; the devices cell names its cluster; then Predict shows only the device on
    server A hearing the news, as the prose below it says."""
    folder, base, token = course
    page = browser.new_page()
    try:
        with screenshot_on_failure(page, "rerun-09-predict"):
            open_in_lab(page, base, token, "09-more-than-one-server.ipynb")
            print(f"09: Run All in {run_all(page):.1f} s")
            first = run_one(page, "def heard(device):")
            assert "Traceback" not in first and "Error" not in first, first
            assert first.strip().startswith("Meera's devices are closed: run the cell above"), first
            devices = run_one(page, 'devices = [lab.connect("/notifications/meera"')
            assert re.search(r"on 3 servers \(A, B, C\), no backplane", devices), devices
            servers = re.findall(r"'([ABC])'", devices)
            heard = run_one(page, "def heard(device):")
            page.screenshot(path=str(SHOTS / "duplexlab-09-predict-again.png"))
            print(
                f"09 Predict again: {heard.strip()} (devices on {servers}); screenshot "
                f"{SHOTS}/duplexlab-09-predict-again.png"
            )
            got = re.findall(r"'Kabir accepted your friend request'|None", heard)
            assert len(got) == 3 and got.count("None") == 2, heard
            assert got[servers.index("A")] != "None", (servers, heard)
    finally:
        page.close()
