"""Where servers run: the loop thread, the HTTP and WebSocket server hosts, the request policy.

It knows no app: the course's servers (``duplexlab.apps``) are plugged in by the lab.
"""

from __future__ import annotations

__all__: list[str] = []
