"""The course's text, read as a beginner reads it: core and deep dives, sentences, words, terms.

The tests (``tests/test_reading.py``) hold the lessons to the numbers this module measures,
and it writes each lesson's one-page summary. From the repository's folder::

    python3 tools/course_text.py report          # words and sentences per lesson, core and deep dive
    python3 tools/course_text.py report 02       # one lesson: also its long sentences
    python3 tools/course_text.py summaries       # (re)write notebooks/summaries/*.md

What counts as **core**: every markdown cell of a student lesson except those in a section whose
``##`` heading starts with "Deep dive (optional):" (it lasts until the next ``#`` or ``##``
heading) and cells tagged ``deep-dive``. **Prose** is what a reader reads as sentences: code
blocks, tables, headings and HTML tags are left out; list items and paragraphs end sentences;
inside them a sentence ends at ``.``, ``!`` or ``?`` followed by a space and a word that does
not start in lower case (so "e.g. this" stays one sentence). A **word** is a token with a letter
or digit in it; ``inline code`` is one word.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEEP_DIVE",
    "Lesson",
    "Section",
    "glossary",
    "lessons",
    "prose_of",
    "sentences",
    "summary_page",
    "words",
]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEEP_DIVE = "Deep dive (optional):"
DEEP_DIVE_TAG = "deep-dive"


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


@dataclass
class Section:
    """A ``##`` section of a lesson (or the part before the first one), with its cells."""

    heading: str  # without the leading "## "; "" for the part before the first ## heading
    deep: bool
    cells: list[dict] = field(default_factory=list)

    @property
    def markdown(self) -> str:
        return "\n\n".join(_source(c) for c in self.cells if c["cell_type"] == "markdown")


@dataclass
class Lesson:
    """One notebook of the course, split into sections."""

    path: Path
    cells: list[dict]
    sections: list[Section]

    @property
    def number(self) -> str:
        return self.path.name[:2]

    @property
    def title(self) -> str:
        for cell in self.cells:
            if cell["cell_type"] == "markdown":
                for line in _source(cell).splitlines():
                    if line.startswith("# "):
                        return line[2:].strip()
        return self.path.stem

    def cell_is_deep(self, index: int) -> bool:
        return any(s.deep and any(c is self.cells[index] for c in s.cells) for s in self.sections)

    def markdown(self, *, deep: bool | None = None) -> str:
        """The markdown of the core (deep=False), of the deep dives (True), or of all (None)."""
        return "\n\n".join(s.markdown for s in self.sections if deep is None or s.deep == deep)

    def prose(self, *, deep: bool | None = None) -> list[str]:
        """The sentences of the core, of the deep dives, or of all."""
        return [s for section in self.sections if deep is None or section.deep == deep for s in sentences(section)]

    def core_words(self) -> int:
        return sum(words(s) for s in self.prose(deep=False))

    def deep_words(self) -> int:
        return sum(words(s) for s in self.prose(deep=True))


def _split(cells: list[dict]) -> list[Section]:
    sections = [Section("", False)]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in _source(cell).splitlines():
                m = re.match(r"^(#{1,2}) (.*)$", line)
                if m:
                    heading = m.group(2).strip()
                    if m.group(1) == "#":
                        heading = ""  # the title: the part before the first ## section
                    sections.append(Section(heading, heading.startswith(DEEP_DIVE)))
                    break
        tagged = DEEP_DIVE_TAG in cell.get("metadata", {}).get("tags", [])
        if tagged and not sections[-1].deep:
            # a lone tagged cell inside a core section: deep on its own
            sections.append(Section(sections[-1].heading, True, [cell]))
            sections.append(Section(sections[-2].heading, False))
            continue
        sections[-1].cells.append(cell)
    return [s for s in sections if s.cells]


def read(path: Path) -> Lesson:
    cells = json.loads(path.read_text())["cells"]
    return Lesson(path, cells, _split(cells))


def lessons() -> list[Lesson]:
    """The students' lessons, in order (not the solutions, not the teacher's notebooks)."""
    return [read(p) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))]


def prose_of(markdown: str) -> list[str]:
    """The blocks of prose in some markdown: paragraphs and list items, cleaned of markup."""
    text = re.sub(r"```.*?```", "\n\n", markdown, flags=re.S)  # fenced code
    text = re.sub(r"`[^`\n]*`", lambda m: m.group(0).replace(" ", _JOIN).replace("<", "‹"), text)  # code: one word
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # HTML tags (their text stays)
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(" ".join(current))
            current.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(">"):
            line = line.lstrip("> ").strip()
        if not line or line.startswith("#") or line.startswith("|"):
            flush()
            continue
        item = re.match(r"^([-*+]|\d+[.)])\s+(.*)$", line)
        if item:
            flush()
            line = item.group(2)
        current.append(line)
    flush()
    cleaned = []
    for block in blocks:
        block = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", block)  # images: their alt text
        block = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", block)  # links: their text
        block = block.replace("**", "").replace("__", "")
        block = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)\*(?!\w)", r"\1", block)  # *emphasis*
        cleaned.append(block.strip())
    return [b for b in cleaned if b]


_JOIN = "\ue000"  # joins the words of inline code into one token, until the sentence is returned
_END = re.compile(r"(?<=[.!?])[)\"'”’]*\s+(?=[^a-z\s])")


def sentences(section_or_markdown: Section | str) -> list[str]:
    """The sentences of a section's markdown (or of a markdown string)."""
    markdown = section_or_markdown if isinstance(section_or_markdown, str) else section_or_markdown.markdown
    found = []
    for block in prose_of(markdown):
        found += [s.strip().replace(_JOIN, " ").replace("‹", "<") for s in _END.split(block) if words(s)]
    return found


def words(sentence: str) -> int:
    """Tokens with a letter or a digit in them (inline code is one token)."""
    sentence = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", _JOIN), sentence)
    return sum(1 for token in sentence.split() if re.search(r"\w", token))


# -- the glossary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    term: str
    meaning: str
    gloss: str  # the Hinglish line
    lesson: str  # the lesson's file name, e.g. "04-websocket-handshake.ipynb"


def glossary(path: Path = NOTEBOOKS / "glossary.md") -> list[Term]:
    """The rows of the glossary's table: | **term** | meaning | Hinglish | [NN](file) |."""
    terms = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("**"):
            continue
        link = re.search(r"\(([^)]+\.ipynb)\)", cells[3])
        terms.append(Term(cells[0].strip("*").strip(), cells[1], cells[2], link.group(1) if link else ""))
    return terms


def term_pattern(term: str) -> re.Pattern[str]:
    """The term as a reader meets it: any case, with an -s, -es, -ed or -ing ending."""
    escaped = re.escape(term.lower()).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?")
    return re.compile(rf"(?<![\w-]){escaped}(s|es|ed|ing|d)?(?![\w-])", re.I)


# -- the one-page summaries --------------------------------------------------------------------


def _section(lesson: Lesson, heading: str) -> str:
    for section in lesson.sections:
        if section.heading.lower() == heading.lower():
            return "\n".join(line for line in section.markdown.splitlines() if not line.startswith("## ")).strip()
    return ""


def _notes_box(lesson: Lesson) -> str:
    for cell in lesson.cells:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and "From your notes" in text:
            return text.strip()
    return ""


def _from_summaries(markdown: str) -> str:
    """Links written from notebooks/ (``glossary.md``, ``02-polling.ipynb``), as seen from notebooks/summaries/."""
    return re.sub(r"\]\((?!https?:|#|\.\./|/)([^)]+)\)", r"](../\1)", markdown)


def summary_page(lesson: Lesson, minutes: int | None = None) -> str:
    """One printable page: what the notes said, what the lesson showed, the recap in Hinglish."""
    lines = [f"# {lesson.number} · {lesson.title}", ""]
    where = f"[the lesson](../{lesson.path.name})"
    if minutes:
        lines += [f"*One-page summary of {where}: {minutes} minutes of core in class.*", ""]
    else:
        lines += [f"*One-page summary of {where}.*", ""]
    box = _notes_box(lesson)
    if box:
        lines += [box, ""]
    summary = _section(lesson, "Summary")
    if summary:
        lines += ["## What we measured", "", summary, ""]
    seedhi = _section(lesson, "Seedhi baat")
    if seedhi:
        lines += ["## Seedhi baat", "", seedhi, ""]
    lines = [_from_summaries(line) for line in lines]
    lines += [
        "---",
        "Generated from the lesson by `python3 tools/course_text.py summaries`; edit the lesson, not this page.",
        "Words in **bold** are in the [glossary](../glossary.md).",
    ]
    return "\n".join(lines) + "\n"


def map_minutes(path: Path = NOTEBOOKS / "00-start-here.ipynb") -> dict[str, tuple[str, int]]:
    """Lesson 00's map: file name → (path, minutes), from rows | NN | [title](file) | core/optional | minutes | …"""
    rows = {}
    for cell in json.loads(path.read_text())["cells"]:
        for line in _source(cell).splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 4:
                continue
            link = re.search(r"\(([0-9]{2}-[^)]+\.ipynb)\)", cells[1])
            minutes = re.fullmatch(r"(\d+)", cells[3])
            if link and minutes and cells[2].lower() in ("core", "optional"):
                rows[link.group(1)] = (cells[2].lower(), int(minutes.group(1)))
    return rows


def write_summaries() -> list[Path]:
    folder = NOTEBOOKS / "summaries"
    folder.mkdir(exist_ok=True)
    minutes = map_minutes()
    written = []
    for lesson in lessons():
        path = folder / lesson.path.with_suffix(".md").name
        path.write_text(summary_page(lesson, minutes.get(lesson.path.name, (None, None))[1]))
        written.append(path)
    return written


def report(only: str | None = None) -> str:
    out = [f"{'lesson':<36} {'core words':>10} {'deep words':>10} {'sentences':>9} {'median':>6} {'longest':>7}"]
    total_core = total_deep = 0
    for lesson in lessons():
        if only and lesson.number != only:
            continue
        core = lesson.prose(deep=False)
        lengths = [words(s) for s in core] or [0]
        total_core += lesson.core_words()
        total_deep += lesson.deep_words()
        out.append(
            f"{lesson.path.stem:<36} {lesson.core_words():>10} {lesson.deep_words():>10} {len(core):>9} "
            f"{statistics.median(lengths):>6} {max(lengths):>7}"
        )
        if only:
            out.append("\ncore sentences over 25 words:")
            out += [f"  ({words(s)}) {s}" for s in core if words(s) > 25]
            out.append("\nsections:")
            out += [f"  {'deep' if s.deep else 'core'}  {s.heading or '(top)'}" for s in lesson.sections]
    out.append(f"{'all lessons':<36} {total_core:>10} {total_deep:>10}")
    return "\n".join(out)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "report"
    if command == "report":
        print(report(sys.argv[2] if len(sys.argv) > 2 else None))
    elif command == "summaries":
        for written in write_summaries():
            print(f"wrote {written.relative_to(ROOT)}")
    else:
        sys.exit(f"unknown command {command!r}: use 'report [NN]' or 'summaries'")
