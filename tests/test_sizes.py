"""Units small enough to hold in one's head: no class over 300 lines, no function over 80, in duplexlab/."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "duplexlab"
MAX_CLASS = 300
MAX_FUNCTION = 80

# What may stay over its limit for now, and why. Issue 26's target is at most three entries: split a
# unit and take it off this list (a test below fails while a listed unit is already within its limit).
TOO_BIG_FOR_NOW = {
    "duplexlab.lab.Lab": "the course's one entry point: about 30 public methods and properties, each a thin,"
    " documented call into apps/servers.py, apps/teacher.py, apps/socket_io.py, tap.py or cluster/ (452 lines)",
}


def units() -> dict[str, tuple[int, int]]:
    """Every class and function in the package by qualified name: (its lines, its limit)."""
    found: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                found[name] = (lines, MAX_CLASS if isinstance(child, ast.ClassDef) else MAX_FUNCTION)
                visit(child, name)
            else:
                visit(child, prefix)

    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        visit(ast.parse(path.read_text(encoding="utf-8")), module)
    return found


def over(found: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return {name: size for name, size in found.items() if size[0] > size[1]}


def largest(sizes: dict[str, tuple[int, int]], count: int = 15) -> str:
    ranked = sorted(sizes.items(), key=lambda item: item[1][0] / item[1][1], reverse=True)[:count]
    return "\n".join(f"  {lines:4} lines (limit {limit}): {name}" for name, (lines, limit) in ranked)


def test_no_class_over_300_lines_and_no_function_over_80():
    """Every class fits in 300 lines and every function in 80, except the listed ones."""
    found = units()
    new = {name: size for name, size in over(found).items() if name not in TOO_BIG_FOR_NOW}
    assert not new, f"over the limit:\n{largest(new)}\nthe largest in the package:\n{largest(found)}"


def test_every_listed_unit_still_exists_and_is_still_too_big():
    """The list only shrinks: a unit split (or renamed, or gone) leaves it."""
    found = units()
    stale = [name for name in TOO_BIG_FOR_NOW if name not in over(found)]
    assert not stale, "take these off TOO_BIG_FOR_NOW (now within the limit, or gone): " + ", ".join(
        f"{name} ({found[name][0]} lines)" if name in found else f"{name} (gone)" for name in stale
    )


def test_every_listed_unit_says_why():
    """Each entry carries a one-line reason."""
    assert all(reason.strip() and "\n" not in reason for reason in TOO_BIG_FOR_NOW.values())
