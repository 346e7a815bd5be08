"""Every line the package prints for the lessons fits 100 columns, or is wrapped between words.

JupyterLab breaks a printed line that is wider than the notebook anywhere, even inside a word
("2720 byt / es each"); at 1366 px with the file browser open a notebook shows about 118 columns.
These tests run the lessons' printing functions on real results and measure every line.
"""

from __future__ import annotations

import pytest

import duplexlab as dl
from duplexlab.check.result import Result
from duplexlab.experiments.cluster import FanOut
from duplexlab.feedback import WIDTH, Feedback, feedback_html, fit, fit_parts

from .helpers import seconds


def assert_fits(text: str, *, source: str | None = None) -> None:
    """Every line ≤ WIDTH columns, unless it is one word too long to break (a URL, a hex run);
    with ``source`` (the unwrapped text), every word of it is still there, whole and in order."""
    for line in text.splitlines():
        assert len(line) <= WIDTH or len(line.split()) == 1, f"{len(line)} columns: {line}"
    if source is not None:
        assert text.split() == source.split(), f"words changed:\n{source}\n→\n{text}"


def test_fit_breaks_only_between_words_and_indents_what_goes_on():
    """A long line wraps at spaces, its continuation indented under it; short lines and breaks stay."""
    line = "✗ every 0.25 s: learned 212 ms late on average, not about 144 ms: " + "more students average better " * 4
    text = fit(f"short line\n{line.strip()}\n  indented short")
    lines = text.splitlines()
    assert lines[0] == "short line" and lines[-1] == "  indented short"
    assert len(lines) > 3 and all(line.startswith("  ") for line in lines[2:-1])
    assert_fits(text, source=f"short line\n{line}\n  indented short")
    assert fit("https://example.com/" + "x" * 120) == "https://example.com/" + "x" * 120  # one word stays whole


def test_fit_parts_breaks_between_parts():
    """The dashboard's load line breaks between its parts (" · "), never inside one."""
    parts = ["30 student(s), 28 here now", "polling load: 28.0 requests/s, 12.3 KiB/s"]
    parts += ["push load: 140.0 messages/s, 30.1 KiB/s over 56 open socket(s)", "judge: 6 queued or running (asha 2)"]
    text = fit_parts(parts)
    assert_fits(text)
    assert [p in line for p in parts for line in text.splitlines()].count(True) == len(parts)
    assert text.replace("\n  ", " · ") == " · ".join(parts)


def test_every_checks_messages_fit(default_lab):
    """Each lesson's check, given a wrong answer and one that raises: its printed result fits, every word kept."""

    def raises(*args, **kwargs):
        raise ValueError("a learner's function that fails with a rather long message " * 3)

    checked = 0
    for name in dl.check.__all__:
        if name == "Result":
            continue
        check = getattr(dl.check, name)
        for answer in (lambda *args, **kwargs: None, raises):
            try:
                result = check(answer)
            except TypeError:
                continue  # a check that needs a run to judge (lesson 6's) is measured below
            assert_fits(str(result), source=f"{result.mark} {result.name}: {result.message}")
            checked += 1
    assert checked >= 30


def test_the_polling_lessons_lines_fit(default_lab):
    """02's sweep, its claims and the 50-student run (the longest numbers) print within 100 columns."""
    lab = default_lab
    results = [
        lab.run(dl.experiments.measure_polling(lab.url, interval=i, judge_seconds=0.5, students=3), seconds(60))
        for i in (0.25, 1.0)
    ]
    results.append(
        lab.run(dl.experiments.measure_polling(lab.url, interval=0.5, judge_seconds=0.5, students=50), seconds(60))
    )
    for r in results:
        assert_fits(str(r))
        assert "detection delay" in str(r) and "polls each" in str(r) and "bytes each" in str(r)
    claims = dl.experiments.delay_claims(results)
    assert isinstance(claims, Feedback)
    assert_fits(claims)
    assert len([line for line in claims.splitlines() if line[0] in "✓✗"]) == len(results)


@pytest.fixture(scope="module")
def side_by_side():
    """Lesson 6's runs: one, the same with bursts, and a classroom of 20 clients."""
    with dl.Arena() as arena:
        one = arena.run(rate=8, duration=1.2, poll_interval=0.5, seed=3)
        bursty = arena.run(rate=8, burstiness=5, duration=1.2, poll_interval=0.5, seed=3)
        room = arena.run(rate=4, duration=1.0, poll_interval=0.5, clients=20, tap=False, seed=3)
    return one, bursty, room


def test_the_side_by_side_lessons_lines_fit(side_by_side):
    """06's table, claims, burst comparison, classroom claims and each transport's line fit 100 columns."""
    one, bursty, room = side_by_side
    printed = [one.table(), one.claims(), one.compare_bursts(bursty), room.table(), room.classroom_claims()]
    printed += [str(r) for r in (*one.results.values(), *room.results.values())]
    for text in printed:
        assert text.strip()
        assert_fits(text)
    for text in (one.claims(), one.compare_bursts(bursty), room.classroom_claims()):
        assert isinstance(text, Feedback)
    checks = [dl.check.polls_per_event(lambda rate, interval: None, one), dl.check.cheapest(lambda r: None, one)]
    for result in checks:
        assert_fits(str(result), source=f"{result.mark} {result.name}: {result.message}")


def test_the_cluster_lessons_fan_out_fits():
    """09's fan-out summary, with three servers and long counts, fits."""
    pages = [(server, [f"note {i}" for i in range(1000)]) for server in "ABC" for _ in range(400)]
    made = {s: {f"note {i}" for i in range(k, 1000, 3)} for k, s in enumerate("ABC")}
    assert_fits(str(FanOut(1000, pages, made)))


def test_claims_show_as_html_with_their_marks_and_print_unchanged():
    """A lesson's claims: print() gives the plain lines; as a cell's value, each mark boxed in its colour."""
    text = "✓ polling waited about half an interval\n✗ a pushed transport was slow this time: run it again"
    claims = Feedback(text)
    assert str(claims) == text and claims.splitlines()[1].startswith("✗")
    html = claims._repr_html_()
    assert html == feedback_html(text) and html.count('class="duplexlab-mark"') == 2
    assert 'aria-label="passed"' in html and 'aria-label="failed"' in html


def test_a_result_that_wraps_shows_as_one_html_line():
    """The HTML of a wrapped ✗ line is one line again (the page wraps it at its own width)."""
    result = Result("pick_server", False, "word " * 40)
    assert len(str(result).splitlines()) > 1
    assert result._repr_html_().count("duplexlab-feedback-line") == 1
