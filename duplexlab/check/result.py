"""What a check returns, and the decorator that turns a raising check into one that never stops Run All."""

from __future__ import annotations

import functools
import itertools
import types
from collections.abc import Callable
from dataclasses import dataclass

from ..clients.seat import current_seat
from ..errors import CheckFailed
from ..feedback import feedback_html, fit

__all__ = ["Result", "check", "fail", "is_stub", "new_user"]


_users = itertools.count(1)


@dataclass(frozen=True)
class Result:
    """What a check found: ``passed``, and a message for the learner.

    Printed (``print``, ``str``), it is plain text starting with its mark, ✓, ✗ or ○ (not attempted),
    wrapped between words to 100 columns. As a cell's value it shows the same words as HTML: the mark
    bold, white in a box of its colour (dark green, dark red, grey), and the check's name bold.
    """

    name: str
    passed: bool
    message: str
    attempted: bool = True  # False: the exercise's stub is untouched

    def raise_if_failed(self) -> Result:
        if not self.passed:
            raise CheckFailed(f"{self.name}: {self.message}")
        return self

    def __bool__(self) -> bool:
        return self.passed

    @property
    def mark(self) -> str:
        """✓ passed, ✗ failed, ○ not attempted yet."""
        return "✓" if self.passed else ("✗" if self.attempted else "○")

    def __str__(self) -> str:
        return fit(self._line())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return feedback_html(self._line(), bold_to_colon=True)

    def _line(self) -> str:
        return f"{self.mark} {self.name}: {self.message}"


def fail(message: str) -> CheckFailed:
    return CheckFailed(message)


def _stub() -> None: ...  # the exercises' stubs: a body of `...` and nothing else


def is_stub(fn: object) -> bool:
    """Whether ``fn`` is an exercise's untouched stub (its body is only ``...``)."""
    code = getattr(fn, "__code__", None)
    return (
        isinstance(fn, types.FunctionType)
        and fn.__name__ != "<lambda>"
        and code is not None
        and code.co_code == _stub.__code__.co_code
    )


def check(fn: Callable[..., str]) -> Callable[..., Result]:
    """Turn a check that raises CheckFailed into one that returns a Result.

    A student who joined a classroom (``dl.join``) also tells the teacher's
    dashboard how the check went (✓, ✗ or ○; never the code).
    """

    @functools.wraps(fn)
    def run(*args, **kwargs) -> Result:
        result = _run(*args, **kwargs)
        seat = current_seat()
        if seat is not None:
            seat.report(fn.__name__, result.mark)
        return result

    def _run(*args, **kwargs) -> Result:
        if args and is_stub(args[0]):
            return Result(
                fn.__name__,
                False,
                "not attempted yet: replace the `...` with your code, then run the cell again",
                attempted=False,
            )
        try:
            return Result(fn.__name__, True, fn(*args, **kwargs))
        except CheckFailed as exc:
            return Result(fn.__name__, False, str(exc))
        except Exception as exc:  # the learner's function raised: say so, keep going
            return Result(fn.__name__, False, f"your function raised {type(exc).__name__}: {exc}")

    return run


def new_user(prefix: str = "check") -> str:
    """A user name no earlier check used (checks never share a user's notifications)."""
    return f"{prefix}-{next(_users)}"
