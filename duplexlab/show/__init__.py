"""What a learner sees: plots (``duplexlab.show.plots``), widgets (``duplexlab.show.widgets``)
the live sequence diagram (``dl.show.Sequence``) and the browser's own code
(``dl.show.BrowserCode``).

Importing this package loads neither matplotlib nor ipywidgets; its modules do.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BrowserCode", "Sequence"]

_LAZY = {"Sequence": "duplexlab.show.widgets.sequence", "BrowserCode": "duplexlab.show.widgets.browser_code"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'duplexlab.show' has no attribute {name!r}")
