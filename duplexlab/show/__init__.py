"""What a learner sees: plots (``duplexlab.show.plots``) and widgets (``duplexlab.show.widgets``).

Importing this package loads neither matplotlib nor ipywidgets; its modules do.
"""

from __future__ import annotations

__all__: list[str] = []
