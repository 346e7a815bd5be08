"""Pure decoding, no sockets: HTTP messages and WebSocket frames from captured bytes, SSE text.

Nothing here imports the runtime, the apps, the clients or the display code.
"""

from __future__ import annotations

from . import capture, sse

__all__ = ["capture", "sse"]
