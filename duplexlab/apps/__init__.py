"""The lessons' servers: notifications (one-way, long poll, SSE), the judge, OTP, realtime (WebSockets).

Apps build on ``duplexlab.runtime`` and ``duplexlab.wire``; they import no client and no display code.
"""

from __future__ import annotations

__all__: list[str] = []
