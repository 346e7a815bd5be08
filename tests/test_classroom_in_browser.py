"""A student's browser widget in classroom mode, in JupyterLab in Chromium: it connects on a ticket
obtained with the student's credential (its page's Origin says nothing), and closes when the
teacher removes the student."""

from __future__ import annotations

import shutil

import pytest

from .browser import PANEL, chromium_context, jupyter_lab, open_in_lab, run_all, screenshot_on_failure, write_notebook

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (bash .ci/run installs it)"
)


def test_a_students_browser_socket_joins_on_a_ticket_and_closes_when_removed(tmp_path):
    """Run All: the widget's socket opens on the teacher's lab as student:asha while the kernel is busy;
    removing asha closes it with 1008, and the widget says so."""
    name = write_notebook(
        tmp_path,
        "classroom.ipynb",
        "import time\nimport duplexlab as dl\nteacher = dl.Lab(classroom=True).start()\n"
        "seat = dl.join(teacher.url, teacher.roster.code, name='asha')",
        "w = dl.widgets.SeatSocket(seat, '/chat?name=asha')\nw",
        "deadline = time.time() + 20\n"
        "while not [r for r in teacher.websockets.records if r.owner == 'student:asha' and r.open]:\n"
        "    assert time.time() < deadline, 'the browser never connected'\n"
        "    time.sleep(0.1)\n"
        "print('open as', [r.owner for r in teacher.websockets.records if r.open])",
        "print('closed', teacher.remove_student('asha'))",
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_context(tmp_path) as context:
        page = context.new_page()
        with screenshot_on_failure(page, "classroom-seat-socket"):
            open_in_lab(page, base, token, name)
            run_all(page)
            cells = page.locator(f"{PANEL} .jp-CodeCell")
            assert "open as ['student:asha']" in cells.nth(2).locator(".jp-OutputArea").inner_text()
            assert "closed 1" in cells.nth(3).locator(".jp-OutputArea").inner_text()
            status = cells.nth(1).locator(".duplexlab-socket-status")
            status.filter(has_text="closed: 1008").wait_for(timeout=10_000)
            assert "removed by the teacher" in status.inner_text()
