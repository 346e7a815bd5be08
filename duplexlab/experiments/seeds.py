"""One seed for every random experiment: fixed by default, so Run All gives the same numbers each time.

Set ``DUPLEXLAB_SEED`` (a whole number) in the environment to run the whole
course on other random draws; a lesson shows one run with another seed too.
"""

from __future__ import annotations

import os

__all__ = ["DEFAULT_SEED", "SEED_VARIABLE", "default_seed"]

SEED_VARIABLE = "DUPLEXLAB_SEED"
DEFAULT_SEED = 2026


def default_seed() -> int:
    """``DUPLEXLAB_SEED`` if set, else :data:`DEFAULT_SEED`.

    Raises:
        ValueError: the variable is set to something that is not a whole number.
    """
    raw = os.environ.get(SEED_VARIABLE)
    if raw is None or not raw.strip():
        return DEFAULT_SEED
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"{SEED_VARIABLE} must be a whole number, not {raw!r}; unset it to use the default ({DEFAULT_SEED})"
        ) from None
