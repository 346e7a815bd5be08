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


@pytest.fixture
def classroom():
    """A classroom lab rehearsed on 127.0.0.1; afterwards no seat is left to report checks to it."""
    from duplexlab.clients import seat as seats

    lab = dl.Lab(classroom=True).start()
    try:
        yield lab
    finally:
        seats._current = None
        lab.close()
