"""What a person sees in JupyterLab, in real headless Chromium."""

from __future__ import annotations

import shutil

import pytest

from .browser import chromium_page, jupyter_lab, run_first_cell, screenshot_on_failure, write_notebook
from .conftest import seconds

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (bash .ci/run installs it)"
)


def test_moving_the_interval_slider_updates_the_plot(tmp_path):
    """In JupyterLab, pressing → on the interval slider re-runs the experiment and redraws within 5 s."""
    name = write_notebook(
        tmp_path, "slider.ipynb",
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
            arg=first_src, timeout=seconds(5) * 1000,
        )
        assert "every 0.6 s" in page.locator(".widget-html-content", has_text="run 2").inner_text()
        assert page.locator(".widget-readout").first.inner_text().strip() == "0.6"
        page.screenshot(path=str(tmp_path / "slider.png"))
