"""What a learner sees: plots (``duplexlab.show.plots``), widgets (``duplexlab.show.widgets``)
and the live sequence diagram (``dl.show.Sequence``).

Importing this package loads neither matplotlib nor ipywidgets; its modules do.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Sequence"]


def __getattr__(name: str) -> Any:
    if name == "Sequence":
        value = importlib.import_module("duplexlab.show.widgets.sequence").Sequence
        globals()[name] = value
        return value
    raise AttributeError(f"module 'duplexlab.show' has no attribute {name!r}")
