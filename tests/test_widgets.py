"""The lesson widgets, driven from Python (the browser test drives them from Chromium)."""

import time

import duplexlab as dl

from .conftest import seconds


def test_slider_changes_are_debounced_into_one_run(lab):
    """Five quick slider moves make one run at the last value, and the plot is redrawn."""
    exp = dl.widgets.PollingExperiment(lab, judge_seconds=0.5, students=2, autorun=False)
    for value in (0.2, 0.3, 0.4, 0.5, 0.6):
        exp.interval.value = value
    exp.wait_idle(seconds(30))
    assert exp.runs_done == 1
    assert [r.interval for r in exp.results] == [0.6]
    assert bytes(exp.image.value).startswith(b"\x89PNG")
    assert "run 1" in exp.status.value


def test_changing_students_starts_a_new_series(lab):
    """Points accumulate across intervals; a new student count starts over."""
    exp = dl.widgets.PollingExperiment(lab, judge_seconds=0.5, students=2, autorun=False)
    exp.sweep([0.2, 0.4])
    exp.measure(0.3)
    assert sorted(r.interval for r in exp.results) == [0.2, 0.3, 0.4]
    exp.students.value = 3
    exp.wait_idle(seconds(30))
    assert [(r.interval, r.students) for r in exp.results] == [(0.3, 3)]


def test_otp_screen_counts_down_from_the_servers_numbers(lab):
    """The screen's countdown comes from resend_after, then from Retry-After on a 429."""
    lab.otp.cooldown = 2
    screen = dl.widgets.OTPScreen(lab, phone="5551234567")
    assert screen.send() == 200
    time.sleep(0.1)
    assert screen.resend_button.disabled and screen.countdown.value == "Resend in 2 s"
    assert screen.send() == 429
    assert "retry after 2 s" in screen.message.value
    time.sleep(2.2)
    assert not screen.resend_button.disabled and screen.countdown.value == ""
    code = lab.otp.inbox("5551234567")[-1]
    assert not screen.verify("abcdef") and "wrong code" in screen.message.value
    assert screen.verify(code) and screen.message.value == "✓ verified"


def test_tap_controls_drive_the_tap(lab):
    """The latency slider, idle settings and buttons change the tap and report what they did."""
    tap = lab.tap(lab.ws_url)
    controls = dl.widgets.TapControls(tap)
    controls.latency.value = 120
    assert tap.latency == 0.12
    controls.idle_action.value = "silent"
    controls.idle.value = 2.5
    assert (tap.idle_timeout, tap.idle_action) == (2.5, "silent")
    controls.idle.value = 0
    assert tap.idle_timeout is None
    ws = lab.connect("/echo", base_url=tap.url)
    controls.cut_button.click()
    assert "cut 1 connection(s)" in controls.status.value
    ws.close()
