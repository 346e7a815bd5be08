"""The lesson widgets, driven from Python (the browser test drives them from Chromium)."""

import re
import time

import duplexlab as dl
from duplexlab.show import figure
from duplexlab.show.widgets.plot import PlotView

from .helpers import seconds


def test_slider_changes_are_debounced_into_one_run(lab):
    """Five quick slider moves make one run at the last value, and the plot is redrawn."""
    exp = dl.widgets.PollingExperiment(lab, judge_seconds=0.5, students=2, autorun=False)
    for value in (0.2, 0.3, 0.4, 0.5, 0.6):
        exp.interval.value = value
    exp.wait_idle(seconds(30))
    assert exp.runs_done == 1
    assert [r.interval for r in exp.results] == [0.6]
    assert exp.plot.png.startswith(b"\x89PNG")
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


def test_the_experiments_plot_says_the_numbers_the_sweep_prints(lab):
    """The widget's plot has an alt with the first and last results' numbers, as ``print(result)``
    shows them, and a numbers table with a row per result; its size is the PNG's."""
    exp = dl.widgets.PollingExperiment(lab, judge_seconds=0.5, students=2, autorun=False)
    assert exp.plot.png == b"" and "after the first run" in exp.plot.empty
    results = exp.sweep([0.2, 0.5])
    printed = [str(r) for r in results]
    alt = exp.plot.alt

    def found(pattern: str, line: str) -> re.Match[str]:
        match = re.search(pattern, line)
        assert match is not None, (pattern, line)
        return match

    for r, line in zip(results, printed):
        polls = found(r"([\d.]+) polls each", line).group(1)
        delay = found(r"detection delay (\d+) ms \(theory (\d+) ms\)", line).groups()
        bytes_each = found(r"(\d+) bytes each", line).group(1)
        assert f"{polls} at {r.interval:g} s" in alt, (line, alt)
        assert f"{delay[0]} ms" in alt and f"{delay[1]}" in alt and bytes_each in alt, (line, alt)
    (table,) = exp.plot.tables
    assert [row[0] for row in table["rows"]] == ["0.2", "0.5"]
    assert (exp.plot.width, exp.plot.height) == figure.png_size(exp.plot.png)


def test_a_plot_view_shows_a_plot_with_its_size_alt_and_numbers():
    """show(plot) sets the image, its size, its alt and its tables; nothing is drawn before."""
    view = PlotView(empty="nothing yet")
    assert (view.png, view.alt, view.tables, view.empty) == (b"", "", [], "nothing yet")
    plot = dl.plots.keepalive([(0.2, 0.2, 0.1)], [0.52], show=False)
    view.show(plot)
    assert view.png == plot.png and (view.width, view.height) == (plot.width, plot.height)
    assert view.alt == plot.alt and "0.52 s" in view.alt
    assert view.tables == [plot.tables[0].state()] and view.tables[0]["rows"][0][-1] == "0.52"


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
