"""Projector mode: the sizes it promises, what dl.projector() says, and widgets that follow it."""

from __future__ import annotations

import re

import pytest

import duplexlab as dl
from duplexlab.feedback import MARKS, contrast
from duplexlab.show import projector as mode


@pytest.fixture(autouse=True)
def normal_sizes():
    """Every test starts and ends with projector mode off (it is one switch per kernel)."""
    dl.projector(False)
    yield
    dl.projector(False)


def rule(css: str, selector: str) -> dict[str, str]:
    """The declarations of the rule whose selector list is exactly ``selector``."""
    found = re.search(r"(?:^|\n)" + re.escape(selector) + r" \{([^}]*)\}", css)
    assert found, f"no rule for {selector}"
    return dict(
        (name.strip(), value.strip())
        for name, _, value in (d.partition(":") for d in found.group(1).split(";"))
        if name.strip()
    )


def px(value: str) -> float:
    return float(value.removesuffix("px"))


def test_projector_sizes_are_the_ones_the_back_row_needs():
    """Plot text ≥ 14 pt, widget text ≥ 16 px, the join line ≥ 28 px, feedback larger than normal."""
    assert mode.sizes() == mode.NORMAL
    on = mode.PROJECTOR
    assert on.plot_text_pt >= 14 and on.widget_text_px >= 16 and on.join_line_px >= 28
    assert on.feedback_px > mode.NORMAL.feedback_px >= 14
    dl.projector()
    assert mode.sizes() == on and mode.is_on()
    dl.projector(False)
    assert mode.sizes() == mode.NORMAL and not mode.is_on()


def test_dl_projector_says_what_changed_in_one_line():
    """The cell's value names each size and says that widgets on screen follow and plots from now on."""
    said = dl.projector()
    text = str(said)
    assert said.on and "\n" not in text and len(text) <= 100
    for number in ("16 px", "28 px", "18 px", "14 pt"):
        assert number in text, text
    assert "on screen" in text and "new plots" in text
    off = dl.projector(False)
    assert not off.on and off.startswith("projector mode off")


def test_the_stylesheet_sets_widget_text_for_both_modes():
    """Normal: 13 px; projector mode: 16 px and taller rows, for ipywidgets and the browser chat alike."""
    css = mode.stylesheet()
    normal = rule(css, ".duplexlab-widget")
    big = rule(css, ".duplexlab-widget.duplexlab-projector")
    assert px(normal["--jp-widgets-font-size"]) == 13 and px(big["--jp-widgets-font-size"]) >= 16
    assert px(big["font-size"]) >= 16
    assert px(big["--jp-widgets-inline-height"]) > px(normal["--jp-widgets-inline-height"])
    assert px(rule(css, ".duplexlab-widget.duplexlab-projector .duplexlab-socket-log")["font-size"]) >= 16
    assert px(rule(css, "body.duplexlab-projector .duplexlab-feedback")["font-size"]) >= 18


def test_button_colours_keep_4_5_to_1_with_white_text():
    """The caution and danger buttons and every feedback mark: white text at 4.5:1 or more, in any theme."""
    css = mode.stylesheet()
    colours = re.findall(r"background-color: (#[0-9a-f]{6}); color: #fff", css)
    assert len(colours) == 2
    for colour in [*colours, *(c for _, c in MARKS.values())]:
        assert contrast(colour, "#ffffff") >= 4.5, colour


def test_a_widget_made_after_dl_projector_has_the_larger_sizes(lab):
    """Made after it: the projector class from the start; made before: it gets the class, and loses it when off."""
    before = dl.widgets.OTPScreen(lab)
    assert "duplexlab-widget" in before.widget._dom_classes
    assert "duplexlab-projector" not in before.widget._dom_classes
    dl.projector()
    after = dl.widgets.OTPScreen(lab)
    assert {"duplexlab-widget", "duplexlab-projector"} <= set(after.widget._dom_classes)
    assert "duplexlab-projector" in before.widget._dom_classes  # widgets on screen follow at once
    assert mode.page_style().on  # and the page's <body>, for the checks' ✓/✗ lines
    dl.projector(False)
    assert "duplexlab-projector" not in after.widget._dom_classes and not mode.page_style().on


def test_every_widget_kind_is_dressed_with_the_course_sizes(lab):
    """The experiment, the tap controls, the OTP screen and the browser chat all carry the class."""
    tap = lab.tap()
    try:
        shown = [
            dl.widgets.PollingExperiment(lab, autorun=False).widget,
            dl.widgets.TapControls(tap).widget,
            dl.widgets.OTPScreen(lab).widget,
            dl.widgets.BrowserSocket(lab, "/chat?name=projector"),
        ]
        for widget in shown:
            assert "duplexlab-widget" in widget._dom_classes, widget
    finally:
        tap.close()


def test_the_dashboards_join_line_is_28_px_in_projector_mode_and_follows_the_switch(classroom):
    """Made in projector mode, the join line is 28 px; one made before grows at its next refresh."""
    early = dl.widgets.Dashboard(classroom, every=60)
    assert f"font-size:{mode.NORMAL.join_line_px}px" in early.join.value
    dl.projector()
    board = dl.widgets.Dashboard(classroom, every=60)
    assert "font-size:28px" in board.join.value and classroom.join_line().split('"')[1] in board.join.value
    early._refresh()
    assert "font-size:28px" in early.join.value
    assert "duplexlab-projector" in early.widget._dom_classes


def test_the_otp_verdict_stands_out_and_keeps_its_text(lab):
    """✓ verified: white and bold on dark green; a wrong code: on dark red; the text still starts with the mark."""
    screen = dl.widgets.OTPScreen(lab, phone="5550001111")
    screen.send()
    assert screen.message.style.background is None
    assert not screen.verify("000000") and screen.message.value.startswith("✗")
    assert screen.message.style.background == MARKS["✗"][1] and screen.message.style.text_color == "#fff"
    assert "duplexlab-verdict" in screen.message._dom_classes
    code = lab.otp.inbox("5550001111")[-1]
    assert screen.verify(code) and screen.message.value == "✓ verified"
    assert screen.message.style.background == MARKS["✓"][1]
    assert rule(mode.stylesheet(), ".duplexlab-verdict")["font-weight"] == "700"
