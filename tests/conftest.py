"""Shared fixtures: a fresh lab per test, real sockets on 127.0.0.1, port 0.

Plain helpers (``seconds``, ``wait_for``, ``free_port`` …) live in ``helpers.py``.
"""

from __future__ import annotations

import pytest

import duplexlab as dl


@pytest.fixture
def lab():
    """A lab of its own for one test, stopped afterwards."""
    with dl.Lab() as lab:
        yield lab


@pytest.fixture
def default_lab():
    """The module-level lab (``dl.start()``), as notebooks use it."""
    lab = dl.start()
    yield lab
    dl.stop()
