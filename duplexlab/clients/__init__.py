"""Clients for cells: HTTP (sync and async, mirrored), polling, a resilient WebSocket client, a page."""

from __future__ import annotations

__all__: list[str] = []
