"""The course reads as a beginner needs: a short core in plain sentences, deep dives marked and
skippable, the notes' own language, a glossary, a map with minutes, a teacher's guide, and no
statement an expert would correct. Numbers are measured by ``tools/course_text.py``."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools.course_text import (
    DEEP_DIVE,
    DEEP_DIVE_TAG,
    NOTEBOOKS,
    glossary,
    lessons,
    map_minutes,
    summary_page,
    term_pattern,
    words,
)

from .helpers import seconds

LESSONS = lessons()
IDS = [lesson.path.stem for lesson in LESSONS]
ROOT = NOTEBOOKS.parent
MAX_SENTENCE, MAX_MEDIAN, MAX_CORE, MAX_TOTAL = 35, 16, 800, 6000
CORE_PATH_MINUTES = 8 * 60


def lesson_named(name: str):
    return next(lesson for lesson in LESSONS if lesson.path.name == name)


def all_text(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])


# -- plain English in the core ----------------------------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_the_core_is_short_plain_sentences(lesson):
    """Core prose: no sentence over 35 words, a median of at most 16, at most 800 words in all."""
    core = lesson.prose(deep=False)
    lengths = [words(s) for s in core]
    print(
        f"{lesson.path.stem}: core {lesson.core_words()} words in {len(core)} sentences "
        f"(median {statistics.median(lengths)}), deep dives {lesson.deep_words()} words"
    )
    long = [f"({words(s)}) {s}" for s in core if words(s) > MAX_SENTENCE]
    assert not long, "core sentences over 35 words:\n" + "\n".join(long)
    assert statistics.median(lengths) <= MAX_MEDIAN, f"median core sentence {statistics.median(lengths)} words"
    assert lesson.core_words() <= MAX_CORE, f"{lesson.core_words()} words of core prose"


# The 6,000 words hold for the lessons issue 23 measured (00-09); a lesson added later is optional
# and keeps to its own 800 (test_the_core_is_short_plain_sentences).
MEASURED = [lesson for lesson in LESSONS if lesson.path.name[:2] <= "09"]


def test_the_whole_core_path_is_at_most_6000_words():
    """Lessons 00-09's core prose together: at most 6,000 words (printed per lesson, with deep dives)."""
    for lesson in LESSONS:
        print(f"{lesson.path.stem:<36} core {lesson.core_words():>5}   deep dive {lesson.deep_words():>5}")
    assert len(MEASURED) == 10
    total = sum(lesson.core_words() for lesson in MEASURED)
    print(f"{'all':<36} core {total:>5}   deep dive {sum(lesson.deep_words() for lesson in LESSONS):>5}")
    assert total <= MAX_TOTAL, f"{total} words of core prose across the lessons"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_deep_dives_are_marked_by_heading_and_tag(lesson):
    """A cell is tagged deep-dive exactly when it sits under a "## Deep dive (optional): …" heading,
    so a teacher can collapse or skip them by either."""
    wrong = []
    for section in lesson.sections:
        for cell in section.cells:
            tagged = DEEP_DIVE_TAG in cell.get("metadata", {}).get("tags", [])
            under = section.heading.startswith(DEEP_DIVE)
            if tagged != under:
                first = "".join(cell["source"]).splitlines()[:1]
                wrong.append(f"{'tagged' if tagged else 'untagged'} cell under {section.heading!r}: {first}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.kernel
@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_the_core_runs_with_every_deep_dive_skipped(lesson):
    """Nothing in the core needs a deep dive: the lesson runs headless with every deep-dive cell left out."""
    nb = nbformat.read(lesson.path, as_version=4)
    nb.cells = [c for c in nb.cells if DEEP_DIVE_TAG not in c.metadata.get("tags", [])]
    NotebookClient(
        nb, timeout=int(seconds(120)), kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors, f"core cell {i} failed without the deep dives: {errors[0]['evalue']}"


def test_lesson_00_starts_the_course_before_any_event_loop():
    """Lesson 00's core is the start, one request and the map: event loops wait in a deep dive."""
    core = lesson_named("00-start-here.ipynb").markdown(deep=False)
    for detail in ("asyncio.run", "nest-asyncio", "nest_asyncio", "event loop"):
        assert detail not in core, f"lesson 00's core explains {detail!r}"


# -- the notes' own language ------------------------------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_each_lesson_opens_from_the_notes_and_closes_its_core_in_hinglish(lesson):
    """A "From your notes" box before the first section, and a 5-8 line "Seedhi baat" recap in the core."""
    before_first = lesson.sections[0].markdown if not lesson.sections[0].heading else ""
    assert "From your notes" in before_first, "no 'From your notes' box before the first ## section"
    seedhi = [s for s in lesson.sections if s.heading == "Seedhi baat"]
    assert len(seedhi) == 1 and not seedhi[0].deep, "no '## Seedhi baat' section in the core"
    lines = [line for line in seedhi[0].markdown.splitlines()[1:] if line.strip()]
    assert 5 <= len(lines) <= 8, f"Seedhi baat has {len(lines)} lines, not 5 to 8"
    headings = [s.heading for s in lesson.sections if not s.deep]
    after = headings[headings.index("Seedhi baat") + 1 :]
    assert set(after) <= {"Exercises"}, f"core sections after Seedhi baat: {after}"
    assert "(glossary.md)" in lesson.markdown(), "the lesson does not link the glossary"


REQUIRED_TERMS = [
    "one-way",
    "two-way",
    "duplex",
    "pipeline",
    "HTTP pipelining",
    "handshake",
    "frame",
    "opcode",
    "mask",
    "keepalive",
    "backoff",
    "jitter",
    "backplane",
    "sticky session",
    "origin",
    "ticket",
]


def test_the_glossary_has_every_term_with_meaning_gloss_and_lesson():
    """At least 40 terms, each with a plain definition, a Hinglish gloss and an existing lesson;
    the terms a beginner meets first are all there."""
    terms = glossary()
    assert len(terms) >= 40, f"{len(terms)} terms"
    for t in terms:
        assert words(t.meaning) >= 5 and words(t.gloss) >= 4, t
        assert (NOTEBOOKS / t.lesson).exists(), f"{t.term}: no lesson {t.lesson!r}"
    names = {t.term.lower() for t in terms}
    missing = [term for term in REQUIRED_TERMS if term.lower() not in names]
    assert not missing, f"the glossary lacks {missing}"


def test_each_term_is_defined_in_bold_in_the_lesson_that_first_uses_it():
    """A term's lesson in the glossary is the first whose core uses it (or, if no core does, the
    first deep dive), and that lesson writes it in bold where it defines it."""
    wrong = []
    for t in glossary():
        pattern = term_pattern(t.term)
        first = next((x for x in LESSONS if pattern.search(" ".join(x.prose(deep=False)))), None)
        first = first or next((x for x in LESSONS if pattern.search(" ".join(x.prose()))), None)
        if first is None:
            wrong.append(f"{t.term}: no lesson uses it")
            continue
        if first.path.name != t.lesson:
            wrong.append(f"{t.term}: the glossary says {t.lesson}, but {first.path.name} uses it first")
        bold = re.compile(r"\*\*[^*]*?" + pattern.pattern + r"[^*]*?\*\*", re.I)
        if not bold.search(first.markdown()):
            wrong.append(f"{t.term}: {first.path.name} never writes it in **bold** where it defines it")
    assert not wrong, "\n".join(wrong)


# -- the map, the teacher's guide and the summaries -------------------------------------------


def test_lesson_00s_map_lists_the_core_path_with_minutes():
    """The map lists every lesson as core or optional with minutes; the core path 00-07 fits in 8 hours."""
    rows = map_minutes()
    assert set(rows) == {lesson.path.name for lesson in LESSONS}, sorted(rows)
    core = {name: minutes for name, (path, minutes) in rows.items() if path == "core"}
    assert sorted(core)[0].startswith("00") and len(core) == 8, sorted(core)
    assert all(path == "optional" for name, (path, _) in rows.items() if name not in core)
    print({name[:2]: minutes for name, minutes in core.items()}, "=", sum(core.values()), "minutes")
    assert sum(core.values()) <= CORE_PATH_MINUTES


def guide_for(lesson) -> str:
    path = NOTEBOOKS / "teachers" / lesson.path.with_suffix(".md").name
    assert path.exists(), f"no teacher's guide {path.relative_to(ROOT)}"
    return path.read_text()


def think_numbers(lesson) -> list[str]:
    return re.findall(r"^### (\d+)\. Think", lesson.markdown(), re.M)


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_the_teachers_guide_times_every_section_and_answers_every_question(lesson):
    """Minutes for each ## section (core ones summing to the map's), where to pause for
    predictions, what to skip, and a model answer to each Think question."""
    guide = guide_for(lesson)
    table = {}
    for line in guide.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"\d+", cells[1]):
            table[cells[0]] = (int(cells[1]), cells[2].lower())
    timed = [s.heading for s in lesson.sections if s.heading and s.heading not in ("Exercises",)]
    missing = [h for h in dict.fromkeys(timed) if h not in table]
    assert not missing, f"the guide's table has no minutes for {missing}"
    core_minutes = sum(m for h, (m, kind) in table.items() if kind == "core")
    assert core_minutes == map_minutes()[lesson.path.name][1], f"the guide's core adds up to {core_minutes} min"
    for section in lesson.sections:
        if section.heading in table:
            assert (table[section.heading][1] == "core") != section.deep, f"{section.heading}: core or skip?"
    assert "## Pause for predictions" in guide and "## Suggested skips" in guide
    predicted = [s.heading for s in lesson.sections if not s.deep and "**Predict" in s.markdown]
    pauses = guide.split("## Pause for predictions", 1)[1].split("\n## ", 1)[0]
    assert all(h in pauses for h in predicted), f"the guide does not pause at {predicted}"
    answers = guide.split("## Model answers", 1)[1] if "## Model answers" in guide else ""
    for n in think_numbers(lesson):
        assert re.search(rf"^### {n}\. Think", answers, re.M), f"no model answer to Think question {n}"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_every_think_question_is_answered_in_the_solutions(lesson):
    """Each "### N. Think" question has an answer of some substance in the lesson's solutions notebook."""
    numbers = think_numbers(lesson)
    if not numbers:
        return
    solutions = NOTEBOOKS / "solutions" / f"{lesson.path.stem}-solutions.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(solutions.read_text())["cells"] if c["cell_type"] == "markdown"]
    for n in numbers:
        answer = next((c for c in cells if re.match(rf"### {n}\. Think", c)), "")
        assert words(answer) >= 30, f"{solutions.name} answers Think question {n} with {words(answer)} words"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_each_lesson_has_its_one_page_summary_up_to_date(lesson):
    """notebooks/summaries/<lesson>.md is what tools/course_text.py makes from the lesson, and fits a page."""
    path = NOTEBOOKS / "summaries" / lesson.path.with_suffix(".md").name
    assert path.exists(), "no summary page; run: python3 tools/course_text.py summaries"
    want = summary_page(lesson, map_minutes()[lesson.path.name][1])
    assert path.read_text() == want, "the summary page is stale; run: python3 tools/course_text.py summaries"
    assert len(want.splitlines()) <= 60 and words(want) <= 550, "longer than a page"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_the_colab_cell_sits_below_the_title_and_says_it_does_nothing_elsewhere(lesson):
    """The title comes first; the Colab cell follows and says in its first line that elsewhere it does nothing."""
    first, second = lesson.cells[0], lesson.cells[1]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), "the title is not first"
    assert "colab-setup" in second.get("metadata", {}).get("tags", []), "the Colab cell is not second"
    line = "".join(second["source"]).splitlines()[0]
    assert "Colab" in line and "does nothing" in line, line


# -- no statement an expert would correct -----------------------------------------------------

CORRECTIONS = [
    # (lesson, must say, must not say)
    (
        "05-chat-and-notifications.ipynb",
        ["answers each ping with a pong"],
        ["The only frame Kabir's page will ever send up"],
    ),
    (
        "02-polling.ipynb",
        ["clock-driven", "interval/2 + RTT/2", "interval/2 + RTT "],
        ["plus one round trip", "half an interval plus a round trip"],
    ),
    ("05-chat-and-notifications.ipynb", ["interval/2 + RTT/2"], ["polled_ms = 1000 / 2"]),
    (
        "03-long-polling-and-sse.ipynb",
        ["even a block with no `data:`"],
        ["the id of the last event that *ended*"],
    ),
    ("04-websocket-handshake.ipynb", ["Compression is not encryption", "anyone can inflate"], ["nobody can read"]),
    (
        "04-websocket-handshake.ipynb",
        ["HTTP/1.1", "RFC 8441", "extended CONNECT", "RFC 9220"],
        ["The connection is no longer HTTP."],
    ),
    ("05-chat-and-notifications.ipynb", ["Web Push", "RFC 8030"], ["keeps one such socket for all apps"]),
    (
        "09-more-than-one-server.ipynb",
        ["sequence of requests", "Last-Event-ID"],
        ["an SSE stream open on C", "held long polls, SSE streams"],
    ),
    (
        "08-websocket-security.ipynb",
        ["CORS only decides whether a page may read the answer", "preflight"],
        ["CORS rules for `fetch`"],
    ),
]


@pytest.mark.parametrize(
    "lesson, right, wrong", CORRECTIONS, ids=[f"{c[0][:2]}-{i}" for i, c in enumerate(CORRECTIONS)]
)
def test_a_corrected_statement_is_there_and_the_wrong_one_gone(lesson, right, wrong):
    """Each of the expert's eight corrections (issue 23): the corrected statement present, the wrong one gone."""
    text = all_text(NOTEBOOKS / lesson)
    assert [r for r in right if r not in text] == [], f"{lesson} does not say it"
    assert [w for w in wrong if w in text] == [], f"{lesson} still says it"


def test_the_readme_tells_the_same_story():
    """The README predicts 02's 2.5 s judgement, states no published address as a fact, and polling's
    theory is the clock-driven poller's."""
    readme = (ROOT / "README.md").read_text()
    assert "3.5 s judgement" not in readme and "2.5 s judgement" in readme
    assert "where the course is published" not in readme
    assert "interval/2 + round trip" not in readme


def test_the_notes_and_the_facts_are_told_apart():
    """02 says kindly that an OTP countdown is a timer, not polling, gives polling cases students know,
    and shows how to look in DevTools; 05 shows how to see which transport a site uses."""
    polling = lesson_named("02-polling.ipynb").markdown()
    for said in ("timer", "UPI", "DevTools", "Fetch/XHR"):
        assert said in polling, said
    chat = lesson_named("05-chat-and-notifications.ipynb").markdown()
    assert "DevTools" in chat and "WS" in chat


def test_lesson_06_ends_with_which_one_when_and_a_teaser_for_09():
    """06's last core section before its recaps is a one-page "which one when" table; it points on to 09."""
    lesson = lesson_named("06-side-by-side.ipynb")
    core = [s for s in lesson.sections if not s.deep and s.heading]
    names = [s.heading for s in core]
    last = names[names.index("Summary") - 1] if "Summary" in names else names[-1]
    assert "which one when" in last.lower(), names
    table = next(s for s in core if s.heading == last).markdown
    assert table.count("\n|") >= 5
    assert "(09-more-than-one-server.ipynb)" in lesson.markdown(deep=False)


@pytest.mark.parametrize(
    "name",
    [
        "00-start-here.ipynb",
        "01-one-way-api.ipynb",
        "02-polling.ipynb",
        "04-websocket-handshake.ipynb",
        "05-chat-and-notifications.ipynb",
    ],
)
def test_early_lessons_ask_for_a_prediction_that_run_all_does_not_answer(name):
    """A guess left at None in git, and dl.reveal beside theory and measurement (test_notebooks checks
    that Run All then says "make your guess first")."""
    code = [c for c in lesson_named(name).cells if c["cell_type"] == "code"]
    guesses = [c for c in code if re.search(r"^my_guess\w* = None", "".join(c["source"]), re.M)]
    assert guesses, f"{name} has no guess cell (my_guess = None)"
    assert any("dl.reveal(my_guess" in "".join(c["source"]) for c in code), f"{name} never reveals the guess"


def test_every_link_to_the_repository_names_the_address_in_pyproject(tmp_path, monkeypatch):
    """The README's Binder and Colab links and every Colab cell use pyproject's address, and
    tools/repository.py moves them all to a fork's address at once."""
    from tools import repository

    address = repository.repository()
    for path in repository.files_with_links():
        for found in repository.LINK.findall(path.read_text()):
            assert found == address, f"{path.name} links github.com/{found}, not {address}"
    copy = tmp_path / "repo"
    (copy / "notebooks").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        (copy / name).write_text((ROOT / name).read_text())
    (copy / "notebooks" / "00-start-here.ipynb").write_text((NOTEBOOKS / "00-start-here.ipynb").read_text())
    monkeypatch.setattr(repository, "ROOT", copy)
    changed = repository.set_repository("someone/fork")
    assert len(changed) == 3 and repository.repository() == "someone/fork"
    assert "duplexlab/duplexlab" not in "".join(p.read_text() for p in changed)


def test_the_teachers_folder_maps_every_lesson_to_its_guide_and_summary():
    """teachers/README.md lists every lesson with the map's path and minutes, its guide and its summary."""
    index = (NOTEBOOKS / "teachers" / "README.md").read_text()
    rows = map_minutes()
    for lesson in LESSONS:
        stem = lesson.path.stem
        path, minutes = rows[lesson.path.name]
        assert re.search(rf"\(\.\./{stem}\.ipynb\) \| {path} \| {minutes} \|", index), f"{stem}: path or minutes"
        assert f"]({stem}.md)" in index and f"](../summaries/{stem}.md)" in index, stem
