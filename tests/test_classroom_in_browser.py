"""A student's browser widget in classroom mode, in JupyterLab in Chromium: it connects on a ticket
obtained with the student's credential (its page's Origin says nothing), and closes when the
teacher removes the student; after a page reload it rejoins on a fresh ticket."""

from __future__ import annotations

import pytest

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    accept_kernel,
    chromium_context,
    code_cell,
    jupyter_lab,
    open_in_lab,
    run_all,
    run_one,
    saved_notebook,
    screenshot_on_failure,
    write_notebook,
)
from .helpers import seconds

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

# a teacher's lab and asha's seat in one kernel; asha's widget; a cell that waits until its socket is open
STUDENT_WIDGET = (
    "import time\nimport duplexlab as dl\nteacher = dl.Lab(classroom=True).start()\n"
    "seat = dl.join(teacher.url, teacher.roster.code, name='asha')",
    "w = dl.widgets.SeatSocket(seat, '/chat?name=asha')\nw",
    "deadline = time.time() + 20\n"
    "while not [r for r in teacher.websockets.records if r.owner == 'student:asha' and r.open]:\n"
    "    assert time.time() < deadline, 'the browser never connected'\n"
    "    time.sleep(0.1)",
)


def test_a_students_browser_socket_joins_on_a_ticket_and_closes_when_removed(tmp_path):
    """Run All: the widget's socket opens on the teacher's lab as student:asha while the kernel is busy;
    removing asha closes it with 1008, and the widget says so."""
    name = write_notebook(
        tmp_path,
        "classroom.ipynb",
        *STUDENT_WIDGET,
        "print('open as', [r.owner for r in teacher.websockets.records if r.open])",
        "print('closed', teacher.remove_student('asha'))",
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_context(tmp_path) as context:
        page = context.new_page()
        with screenshot_on_failure(page, "classroom-seat-socket"):
            open_in_lab(page, base, token, name)
            run_all(page)
            cells = page.locator(f"{PANEL} .jp-CodeCell")
            assert "open as ['student:asha']" in cells.nth(3).locator(".jp-OutputArea").inner_text()
            assert "closed 1" in cells.nth(4).locator(".jp-OutputArea").inner_text()
            status = cells.nth(1).locator(".duplexlab-socket-status")
            status.filter(has_text="closed: 1008").wait_for(timeout=10_000)
            assert "removed by the teacher" in status.inner_text()


def test_a_students_browser_socket_rejoins_after_a_page_reload(tmp_path):
    """The first view spends its ticket; the kernel fetches the next with the seat's credential, so after
    the page is reloaded the widget's new view opens a second socket as student:asha, no cell re-run."""
    opens = "print('opens', [r.open for r in teacher.websockets.records if r.owner == 'student:asha'])"
    name = write_notebook(
        tmp_path,
        "classroom-reload.ipynb",
        *STUDENT_WIDGET,
        opens,
    )
    with jupyter_lab(tmp_path) as (base, token), chromium_context(tmp_path) as context:
        page = context.new_page()
        with screenshot_on_failure(page, "classroom-seat-socket-reload"):
            open_in_lab(page, base, token, name)
            run_all(page)
            assert "opens [True]" in code_cell(page, opens).locator(".jp-OutputArea").inner_text()
            saved_notebook(page, base, token, name)  # the widget's output comes back with the page
            page.reload()
            page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-CodeCell .cm-content", timeout=seconds(60) * 1000)
            accept_kernel(page)
            status = page.locator(f"{PANEL} .duplexlab-socket-status")
            status.filter(has_text="open, straight to the lab").wait_for(timeout=seconds(20) * 1000)
            assert "opens [False, True]" in run_one(page, opens)
