"""More than one server: server processes behind a load balancer, joined (or not) by a backplane.

- :mod:`.backplane`  starts the pub/sub backplane: a real ``redis-server`` when the machine has
  one, else an embedded Redis-compatible server (fakeredis) in a process of its own; or uses
  any Redis/Valkey you give it by URL.
- :mod:`.node`       one server process (``python -m duplexlab.cluster.node``): the notification
  API, long polling, SSE and the WebSocket channels, with its own memory; with a backplane it
  appends what it creates to one shared log and applies the log in order, so every server holds
  the same notifications and numbered messages, with the same ids.
- :mod:`.balancer`   the load balancer in the lab: round robin per connection, sticky (by the
  ``dl-server`` cookie or a ``?server=`` query) when switched on.
- :mod:`.cluster`    starts and stops all of it; ``dl.start(servers=3)`` makes one.

Nothing here imports the lab; the lab imports :mod:`.cluster`.
"""

from __future__ import annotations

__all__: list[str] = []
