"""can_reach's verdict table, row by row: the facts of one try in, what it tells the student out (pure)."""

from __future__ import annotations

import pytest

from duplexlab.clients.reach import VERDICTS, Facts, judge


def facts(asked: str = "health", **found) -> Facts:
    return Facts("http://192.168.1.20:8000", "192.168.1.20", 8000, asked, seconds=0.012, **found)


ROWS = [  # (facts, ok, cause, words the advice must hold)
    (Facts("teacher", None, 80, "health", failure="no-host"), False, "name", "'teacher' has no address in it"),
    (facts(failure="name"), False, "name", "'192.168.1.20' does not resolve"),
    (
        facts(failure="refused", address="192.168.1.20"),
        False,
        "refused",
        "nothing listens on port 8000 at 192.168.1.20",
    ),
    (facts(failure="timeout", timeout=3.0), False, "timeout", "no answer within 3 s"),
    (facts(failure="unreachable", address="10.0.0.9"), False, "unreachable", "no way to 10.0.0.9"),
    (facts(failure="error", detail="OSError: boom"), False, "error", "OSError: boom"),
    (facts(failure="not-http"), False, "not-a-lab", "but not with HTTP"),
    (facts("code", status=400, code="K7QM2XPA"), True, "reached", "in 12 ms, and the join code is right"),
    (facts("code", status=403, code="K7QM2XPA"), False, "denied", "the join code 'K7QM2XPA' is wrong"),
    (facts("credential", status=401), False, "denied", "your credential is not valid"),
    (facts("credential", status=404), False, "not-a-classroom", "not in classroom mode"),
    (facts(status=403), False, "denied", "your join code or credential is not"),
    (facts("credential", status=200), True, "reached", "in 12 ms, and your credential counts"),
    (facts("credential", status=429), True, "reached", "slow down"),
    (facts(status=200), True, "reached", "reached the lab in 12 ms"),
    (facts(status=502), False, "not-a-lab", "something answered 502 on port 8000"),
]


@pytest.mark.parametrize(
    ("found", "ok", "cause", "words"), ROWS, ids=[f"{r[0].failure}-{r[0].asked}-{r[0].status}" for r in ROWS]
)
def test_each_row_of_the_table(found, ok, cause, words):
    """Each kind of try gets its own verdict, cause and advice; the status travels with it."""
    reach = judge(found)
    assert (bool(reach), reach.cause, reach.status) == (ok, cause, found.status)
    assert words in reach.advice, reach.advice


def test_every_row_is_reached_by_some_facts():
    """No row of the table is hidden behind an earlier one: each is the first match of one case above."""
    first = {next(i for i, row in enumerate(VERDICTS) if row.matches(found)) for found, *_ in ROWS}
    assert first == set(range(len(VERDICTS)))


def test_what_is_not_asked_about_is_not_judged_as_asked():
    """A join code that gets 429, or a health check that gets 400, is not a lab answering as one would."""
    assert judge(facts("code", status=429, code="X")).cause == "not-a-lab"
    assert judge(facts(status=400)).cause == "not-a-lab"
    assert judge(facts("code", status=401, code="X")).advice.startswith("the lab answered 401")
    assert judge(facts(status=404)).cause == "not-a-lab"  # health's 404: another program
