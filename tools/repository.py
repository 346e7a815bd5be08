"""Where the course's links say it lives: one GitHub address, changed everywhere at once.

The Binder and Colab links in the README and each lesson's Colab cell assume the course is at
``github.com/<owner>/<name>`` (``[project.urls]`` in ``pyproject.toml``). A fork changes it with::

    python3 tools/repository.py                 # print the address the links assume
    python3 tools/repository.py you/duplexlab   # point every link and Colab cell at your fork
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["LINK", "files_with_links", "repository", "set_repository"]

ROOT = Path(__file__).resolve().parent.parent
_URL = re.compile(r'Repository = "https://github\.com/([^/"]+/[^/"]+)"')
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def repository() -> str:
    """The ``owner/name`` the links assume, from ``pyproject.toml``."""
    found = _URL.search((ROOT / "pyproject.toml").read_text())
    if not found:
        raise SystemExit('pyproject.toml has no [project.urls] Repository = "https://github.com/owner/name"')
    return found.group(1)


LINK = re.compile(r"(?:github\.com/|/gh/|colab\.research\.google\.com/github/)([\w.-]+/[\w-]+(?:\.(?!git\b)[\w-]+)*)")


def files_with_links() -> list[Path]:
    """The files whose links name the repository: pyproject, the README and the notebooks."""
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    return [ROOT / "pyproject.toml", ROOT / "README.md", *notebooks]


def set_repository(new: str) -> list[Path]:
    """Replace the current address by ``new`` (``owner/name``) everywhere; returns the files changed."""
    if not _NAME.match(new):
        raise SystemExit(f"{new!r} is not a GitHub owner/name, like you/duplexlab")
    old = repository()
    changed = []
    for path in files_with_links():
        text = path.read_text()
        updated = re.sub(rf"(github\.com/|/gh/|/github/){re.escape(old)}(?![\w-])", rf"\g<1>{new}", text)
        if updated != text:
            path.write_text(updated)
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) == 1:
        print(repository())
    else:
        for path in set_repository(sys.argv[1]):
            print(f"updated {path.relative_to(ROOT)}")
