"""dl.doctor(): the checks a student alone runs, headless (a script, a real kernel) and in JupyterLab in Chromium."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import duplexlab as dl

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    chromium_context,
    jupyter_lab,
    open_in_lab,
    run_all,
    screenshot_on_failure,
    write_notebook,
)
from .helpers import seconds

PROBE_SCRIPT = "import duplexlab as dl\nprint(dl.doctor())\ndl.stop()"


def doctor_in_a_script(*prefix: str, **env: str) -> str:
    """``print(dl.doctor())`` in a fresh interpreter (under ``prefix``, e.g. prlimit), with ``env`` added."""
    out = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        env={**os.environ, **env},
        check=True,
    )
    return out.stdout


def check_text(printed: str, name: str) -> str:
    """The check called ``name`` in the doctor's printed lines, its wrapped lines joined, spaces normalized."""
    blocks = re.split(r"\n(?=[✓!✗·] )", printed)
    found = [b for b in blocks if b[2:].startswith(name + ":")]
    assert len(found) == 1, printed
    return " ".join(found[0].split())


def test_every_check_says_what_it_found_and_what_to_do_when_it_is_not_right(lab):
    """Versions, where, the lab, open files and the judge are each one line; every ! or ✗ carries a →."""
    checkup = dl.doctor(lab)
    names = [c.name for c in checkup.checks]
    assert names == ["versions", "where", "the lab", "open files", "judge"]
    assert all(c.todo for c in checkup.problems)
    text = str(checkup)
    assert f"websockets {importlib.metadata.version('websockets')}" in text
    assert lab.url in text and "answer the kernel" in text
    assert checkup.probe is None  # no kernel here: no box, and it says so
    assert "No notebook shows this, so there is no browser to check" in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()) <= 100  # a projector's width, not wrapped mid-word


@pytest.mark.process
def test_a_low_open_file_limit_is_flagged_with_the_command_that_fixes_it():
    """Under ulimit -n 1024 (prlimit), the open-files line warns and names ulimit -n 4096."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    line = check_text(doctor_in_a_script("prlimit", "--nofile=1024:1024"), "open files")
    assert line.startswith("! open files: 1024 allowed") and "→" in line and "ulimit -n 4096" in line, line


@pytest.mark.process
@pytest.mark.parametrize(
    ("signs", "said"),
    [
        ({"JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"}, "JupyterHub (JUPYTERHUB_SERVICE_PREFIX=/user/alice/)"),
        ({"BINDER_LAUNCH_HOST": "https://mybinder.org/"}, "Binder (BINDER_LAUNCH_HOST)"),
        ({"VSCODE_PID": "4242"}, "VS Code (VSCODE_PID)"),
        ({"COLAB_RELEASE_TAG": "release-colab"}, "Colab (COLAB_RELEASE_TAG)"),
    ],
)
def test_it_tells_where_the_notebook_runs_and_how_the_widget_gets_to_the_lab(signs, said):
    """The signs each front end leaves in the kernel's environment name it and the way the widget goes."""
    where = check_text(doctor_in_a_script(**signs), "where")
    assert said in where, where
    if "JUPYTERHUB" in said:
        assert "/user/alice/proxy/<port>/" in where
    if "VS Code" in said:
        assert "straight to the lab's port if the kernel runs on this computer, else over the widget's comm" in where
    if "Colab" in said:
        assert "over the widget's comm" in where and "straight" not in where


@pytest.mark.kernel
def test_in_a_kernel_without_a_browser_it_prints_its_lines_and_shows_the_box_to_no_one():
    """nbclient (no browser): the lines are printed, the box is a widget with its text fallback, no error."""
    nb = new_notebook(cells=[new_code_cell("import duplexlab as dl\ndl.doctor()"), new_code_cell("dl.stop()")])
    NotebookClient(nb, timeout=int(seconds(120)), kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert text.startswith("duplexlab doctor") and "✓ the lab" in text, text
    widget = next(o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))
    assert "widgets don't render in this front end" in widget["data"]["text/plain"]


@pytest.mark.browser
@NEEDS_CHROMIUM
@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_in_the_browser_the_box_checks_widgets_and_every_way_to_the_lab(tmp_path, ui):
    """Run All in JupyterLab / Notebook 7 on this machine: the box says widgets render, the lab is reached
    straight and through the notebook server's proxy, the comm answers once idle; the kernel then has it."""
    name = write_notebook(
        tmp_path,
        "doctor.ipynb",
        "import duplexlab as dl\ncheckup = dl.doctor()\ncheckup",
        "import time\ntime.sleep(1)",  # the box's checks run while this cell does
        "print(sorted(k for k, v in checkup.browser.items() if v['ok']))",
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_context(tmp_path) as context:
        page = context.new_page()
        with screenshot_on_failure(page, f"doctor-{ui}"):
            open_in_lab(page, base, token, name, ui=ui)
            run_all(page)
            box = page.locator(f"{PANEL} .duplexlab-doctor")
            box.locator("li", has_text="✓ over the widget's comm").wait_for(timeout=seconds(15) * 1000)
            text = box.text_content()
            assert "✓ widgets render here" in text
            assert "✓ straight to the lab: open in" in text, text
            assert "✓ through the notebook server's proxy: open in" in text, text
            assert "will go straight to the lab" in text
            print(f"{ui}:", text)
            page.locator(f"{PANEL} .jp-CodeCell").nth(2).locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            found = page.locator(f"{PANEL} .jp-CodeCell").nth(2).locator(".jp-OutputArea")
            found.filter(has_text="['bridge', 'direct', 'proxy', 'widgets']").wait_for(timeout=seconds(15) * 1000)
