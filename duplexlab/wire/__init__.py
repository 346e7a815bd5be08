"""Pure decoding, no sockets: HTTP messages and WebSocket frames from captured bytes, SSE text,
Engine.IO and Socket.IO packets.

Nothing here imports the runtime, the apps, the clients or the display code.
"""

from __future__ import annotations

from . import capture, engineio, sse

__all__ = ["capture", "engineio", "sse"]
