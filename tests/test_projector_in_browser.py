"""Projector mode and 150 % zoom as the class sees them: Run All in JupyterLab in Chromium, then measure.

Lesson 2 and the teacher's classroom notebook run with ``dl.projector()`` added after their first
``import duplexlab`` cell (in a copy), at a projector's 1366×900. The test scrolls the notebook
panel to each widget, as a person does, and reads the computed font sizes there: widget text
≥ 16 px, the join line ≥ 28 px, the checks' ✓/✗/○ lines ≥ 18 px with their mark boxed. Then
lesson 2 again at 150 % browser zoom, without projector mode: Chromium's zoom is emulated by a
viewport of 1366/1.5 × 900/1.5 CSS pixels drawn at a device scale factor of 1.5 (what zoom does:
fewer, larger CSS pixels), and every slider's value must be on screen, not cut off. Screenshots are
kept in ``$DUPLEXLAB_SCREENSHOTS`` (default: the temp folder) as ``duplexlab-projector-*.png``.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from .browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NEEDS_CHROMIUM,
    PANEL,
    jupyter_lab,
    open_in_lab,
    run_all,
    screenshot_on_failure,
)
from .helpers import seconds, wait_for

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

COURSE = Path(__file__).parent.parent / "notebooks"
SHOTS = Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", "/tmp"))


def with_projector(source: Path, target: Path) -> None:
    """A copy of ``source`` with a ``dl.projector()`` cell after its first cell that imports duplexlab."""
    nb = nbformat.read(source, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import duplexlab" in c.source)
    nb.cells.insert(first + 1, new_code_cell("dl.projector()"))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """JupyterLab on a folder with lesson 2 (as it is, and with projector mode) and the classroom notebook."""
    folder = tmp_path_factory.mktemp("projector")
    shutil.copy(COURSE / "02-polling.ipynb", folder / "02-polling.ipynb")
    shutil.copy(COURSE / "glossary.md", folder / "glossary.md")
    with_projector(COURSE / "02-polling.ipynb", folder / "02-projector.ipynb")
    with_projector(COURSE / "teachers" / "classroom.ipynb", folder / "teachers" / "classroom-projector.ipynb")
    with jupyter_lab(folder) as (base, token):
        yield folder, base, token


@contextmanager
def chromium(folder: Path, name: str, *, zoom: float = 1.0):
    """A page at 1366×900 screen pixels; ``zoom`` 1.5 emulates the browser's 150 % zoom (see above)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(folder / f".chromium-{name}"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": round(1366 / zoom), "height": round(900 / zoom)},
            device_scale_factor=zoom,
        )
        page = context.new_page()
        try:
            with screenshot_on_failure(page, f"projector-{name}"):
                yield page
        finally:
            context.close()


def scroll_to(page, selector: str, *, nth: int = 0) -> None:
    """Scroll the notebook panel itself, in steps, until the ``nth`` match of ``selector`` is in view."""
    outer = f"{PANEL} .jp-WindowedPanel-outer"
    page.evaluate(f"document.querySelector('{outer}').scrollTop = 0")

    def in_view() -> bool:
        top = page.evaluate(
            """([sel, n, outer]) => {
                 const el = document.querySelectorAll(sel)[n], o = document.querySelector(outer);
                 if (!el) return null; const r = el.getBoundingClientRect(), b = o.getBoundingClientRect();
                 return r.height > 0 && r.top >= b.top && r.top < b.bottom - 120 ? r.top : null; }""",
            [selector, nth, outer],
        )
        if top is not None:
            return True
        moved = page.evaluate(
            f"(() => {{ const o = document.querySelector('{outer}'); const b = o.scrollTop; o.scrollTop += 200;"
            " return o.scrollTop !== b; })()"
        )
        assert moved, f"scrolled to the end without seeing {selector}"
        return False

    time.sleep(0.25)
    wait_for(in_view, timeout=60, why=lambda: f"{selector} never came into view", interval=0.25)
    time.sleep(0.5)  # laid out: let it settle


SIZES = """(sel) => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length && e.textContent.trim())
    .map(e => [e.textContent.trim().slice(0, 40), parseFloat(getComputedStyle(e).fontSize)])"""


def font_sizes(page, selector: str) -> list[tuple[str, float]]:
    return [tuple(x) for x in page.evaluate(SIZES, selector)]


def test_projector_mode_sizes_lesson_2_for_the_back_row(course):
    """Lesson 2 with dl.projector(): the experiment's labels, values and status ≥ 16 px; the checks'
    lines ≥ 18 px, each mark bold and white on its colour; a screenshot of each."""
    folder, base, token = course
    with chromium(folder, "projector") as page:
        open_in_lab(page, base, token, "02-projector.ipynb")
        run_all(page)
        widget = f"{PANEL} .duplexlab-widget:has(.widget-slider)"
        scroll_to(page, widget)
        page.screenshot(path=str(SHOTS / "duplexlab-projector-02-widget.png"))
        texts = font_sizes(page, f"{widget} .widget-label") + font_sizes(page, f"{widget} .widget-readout")
        texts += font_sizes(page, f"{widget} .widget-html-content")
        assert len(texts) >= 7, texts
        assert all(size >= 16 for _, size in texts), texts
        assert page.locator(f"{PANEL} .duplexlab-widget.duplexlab-projector").count() >= 1
        feedback = f"{PANEL} .duplexlab-feedback"
        scroll_to(page, feedback)
        page.screenshot(path=str(SHOTS / "duplexlab-projector-02-check.png"))
        lines = font_sizes(page, feedback)
        assert lines and all(size >= 18 for _, size in lines), lines
        mark = page.locator(f"{feedback} .duplexlab-mark").first
        style = mark.evaluate(
            "e => { const s = getComputedStyle(e); return [s.fontWeight, s.color, s.backgroundColor, e.textContent]; }"
        )
        assert int(style[0]) >= 700 and style[1] == "rgb(255, 255, 255)" and style[3] in "✓✗○", style
        assert style[2] in ("rgb(27, 94, 32)", "rgb(176, 0, 32)", "rgb(69, 90, 100)"), style


def test_projector_mode_makes_the_join_line_28_px_on_the_dashboard(course):
    """The classroom notebook with dl.projector(): the join line's code ≥ 28 px, the dashboard's
    text and controls ≥ 16 px; a screenshot."""
    folder, base, token = course
    with chromium(folder, "classroom") as page:
        open_in_lab(page, base, token, "teachers/classroom-projector.ipynb")
        run_all(page)
        board = f"{PANEL} .duplexlab-dashboard"
        scroll_to(page, board)
        page.locator(f"{board} .duplexlab-dashboard-table tr").nth(3).wait_for(timeout=seconds(10) * 1000)
        page.screenshot(path=str(SHOTS / "duplexlab-projector-dashboard.png"))
        join = font_sizes(page, f"{board} .duplexlab-join code")
        assert join and join[0][1] >= 28, join
        texts = font_sizes(page, f"{board} .widget-html-content") + font_sizes(page, f"{board} .widget-label")
        texts += font_sizes(page, f"{board} button") + font_sizes(page, f"{board} .widget-readout")
        texts += font_sizes(page, f"{board} .duplexlab-dashboard-table td")
        assert len(texts) >= 10 and all(size >= 16 for _, size in texts), texts


def test_at_150_percent_zoom_every_slider_value_of_lesson_2_is_on_screen(course):
    """Lesson 2 as it is, at 150 % browser zoom: each slider's value shows, in full, where a person looks."""
    folder, base, token = course
    with chromium(folder, "zoom", zoom=1.5) as page:
        open_in_lab(page, base, token, "02-polling.ipynb")
        run_all(page)
        widget = f"{PANEL} .duplexlab-widget:has(.widget-slider)"
        scroll_to(page, widget)
        page.screenshot(path=str(SHOTS / "duplexlab-projector-02-zoom-150.png"))
        readouts = page.evaluate(
            """(sel) => [...document.querySelectorAll(sel + ' .widget-slider')].map(s => {
                 const r = s.querySelector('.widget-readout'), box = r.getBoundingClientRect();
                 const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
                 return [r.textContent, Math.round(box.width), r.contains(hit) || hit === r,
                         box.right <= s.closest('.jp-OutputArea').getBoundingClientRect().right + 0.5];
               })""",
            widget,
        )
        assert len(readouts) == 3, readouts
        for text, width, seen, inside in readouts:
            assert text.strip() and width > 0 and seen and inside, readouts
