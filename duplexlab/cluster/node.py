"""One server process of a cluster: the social app's HTTP API and WebSocket channels, with its own memory.

``python -m duplexlab.cluster.node NAME HOST`` reads one JSON line on its
standard input first, ``{"backplane": URL or "", "key": LOG_KEY}`` (the
backplane's URL carries its password: a command line would show it to every
user of the machine, a pipe shows it to nobody), then starts the notification
API (list, long poll, SSE) and the WebSocket server (``/notifications/<user>``,
``/stream/<topic>``, ``/echo``) on free ports of HOST, prints one JSON line
``{"ready": true, "name": ..., "http": ..., "ws": ..., "pid": ...}``
and then takes commands, one JSON object per line on its standard input,
answering each with one line on its standard output:

- ``{"op": "notify", "user": ..., "text": ..., "kind": ...}``  create a notification here
- ``{"op": "publish", "topic": ..., "data": [...]}``           publish messages on a stream
- ``{"op": "socketio", "upgrades": true, ...}``                 start Socket.IO at ``/socket.io/`` (on the backplane)
- ``{"op": "stats"}``                                           connections, notifications, CPU time
- ``{"op": "stop"}`` (or the end of its input)                  stop

**Without a backplane** what a server creates stays in its own memory: only
its own clients hear of it, and its numbering (notification ids, stream
numbers) is its own. **With a backplane** a server does not apply what it
creates: it appends it to one shared log (a Redis stream, ``XADD``), and every
server, itself included, reads that log in order (``XREAD``) and applies each
entry. So every server holds the same notifications and numbered messages, with
the same ids and numbers, and a client may reconnect to any server and resume.
Entries are checked against one schema (:mod:`.entry`) when appended and when
read; one that is not (another program's, or a broken one) is skipped, counted
and reported in ``stats`` (``skipped``, ``backplane_error``), and the reader goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..apps import events, longpoll, notifications, realtime, socket_io
from ..runtime.http import HTTPServer, make_app
from ..runtime.hygiene import ConnectionGate, quiet_server_logs
from ..runtime.policy import RequestPolicy
from . import entry

__all__ = ["LOG_MAXLEN", "Log", "main"]

LOG_MAXLEN = 200_000  # entries the backplane keeps (approximately); servers keep their own bounded history
READ_BATCH = 1_000
COMMAND_LIMIT = 10.0  # seconds one command may take before it is answered with an error
EXIT_WITHIN = 5.0  # seconds a server may take to close once the lab's line to it is gone


class Log:
    """The shared log on the backplane: append entries, and apply every entry in order as it comes.

    Args:
        url: the backplane's ``redis://`` URL.
        key: the Redis stream that holds this cluster's log.
        apply: called with each entry (a dict that :func:`.entry.decode` passed), in log order, on
            this process's loop.
    """

    def __init__(self, url: str, key: str, apply: Callable[[dict], None]) -> None:
        import redis.asyncio as aredis

        self.key = key
        self.apply = apply
        self._writer = aredis.Redis.from_url(url)
        self._reader = aredis.Redis.from_url(url)
        self._task: asyncio.Task | None = None
        self.applied = 0
        self.last_id = "0-0"
        self.down = ""  # the backplane's last error while reading, until it answers again
        self.skipped = 0  # entries that were not the log's schema, skipped
        self.last_skipped = ""  # the last of them: its id and why
        self._closing = False

    @property
    def error(self) -> str:
        """What is wrong, in words ("" when nothing is): the backplane down, entries skipped."""
        parts = [self.down] if self.down else []
        if self.skipped:
            parts.append(f"skipped {self.skipped} malformed log entries (the last: {self.last_skipped})")
        return "; ".join(parts)

    async def start(self) -> None:
        await self._writer.ping()
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def append(self, entries: list[dict]) -> None:
        """Append ``entries`` in one round trip (a pipeline of XADDs, in this order).

        Raises:
            entry.BadEntry: one is not the log's schema (nothing is appended then).
        """
        encoded = [entry.encode(e) for e in entries]
        pipe = self._writer.pipeline(transaction=False)
        for raw in encoded:
            pipe.xadd(self.key, {"e": raw}, maxlen=LOG_MAXLEN, approximate=True)
        await pipe.execute()

    def _skip(self, entry_id: str, why: str) -> None:
        self.skipped += 1
        self.last_skipped = f"{entry_id}: {why}"[:200]
        if self.skipped <= 10 or self.skipped % 1000 == 0:  # the server's log file stays short
            print(f"skipped log entry {self.last_skipped} ({self.skipped} so far)", file=sys.stderr)

    async def _follow(self) -> None:
        import redis

        while not self._closing:
            try:
                found: Any = await self._reader.xread({self.key: self.last_id}, block=1000, count=READ_BATCH)
                self.down = ""
            except (redis.RedisError, OSError) as exc:  # the backplane is down: say so, try again, lose nothing
                if self._closing:
                    return  # redis-py may turn a cancelled read into a ConnectionError: closing, not down
                self.down = f"{type(exc).__name__}: {exc}"
                print(f"backplane: {self.down}; trying again", file=sys.stderr)
                await asyncio.sleep(0.5)
                continue
            for _, entries in found or []:
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    try:
                        if not isinstance(fields, dict) or set(fields) != {b"e"}:
                            raise entry.BadEntry("an entry is one field, 'e'")
                        data = entry.decode(fields[b"e"])
                    except entry.BadEntry as exc:  # one bad entry never stops the server: skip it, say so
                        self._skip(self.last_id, str(exc))
                        continue
                    try:
                        self.apply(data)
                    except Exception as exc:  # the schema let it through, and applying it failed: the same
                        self._skip(self.last_id, f"{type(exc).__name__}: {exc}")
                        continue
                    self.applied += 1

    async def close(self) -> None:
        """Stop reading and let go of the backplane, within a few seconds whatever state it is in."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2)
        for client in (self._writer, self._reader):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), 2)


def http_app(
    name: str, policy: RequestPolicy, store: notifications.NotificationStore, sio: socket_io.SocketIOHost
) -> web.Application:
    """A server's HTTP app: the notifications API (list, long poll, SSE) and ``/socket.io/``; every answer
    names the server (``X-Duplexlab-Server``) and sets its sticky cookie."""
    app = make_app(policy)
    notifications.add_routes(app, store)
    longpoll.add_routes(app, store)
    events.add_routes(app, store)
    socket_io.add_routes(app, sio)

    async def say_who(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Duplexlab-Server"] = name  # which server answered
        # for sticky sessions; a header, since aiohttp has turned response.cookies into headers by now
        response.headers.add("Set-Cookie", f"dl-server={name}; HttpOnly; Path=/; SameSite=Strict")

    app.on_response_prepare.append(say_who)
    return app


async def serve(name: str, host: str, backplane: str, key: str) -> None:
    quiet_server_logs()
    loop = asyncio.get_running_loop()
    store = notifications.NotificationStore()
    store.bind(loop)
    policy = RequestPolicy(bound_host=host)
    gate = ConnectionGate()
    sio = socket_io.SocketIOHost()  # started by the command "socketio" (lesson 10's deep dive)
    app = http_app(name, policy, store, sio)
    http = HTTPServer(app, host=host, port=0, gate=gate)
    ws = realtime.RealtimeServer(store, host=host, policy=policy, gate=gate, name=name)
    await http.start()
    await ws.start()
    policy.own_ports = {http.port, ws.port}

    def apply(item: dict) -> None:
        if item["op"] == "notify":
            store.add(item["user"], item["text"], kind=item.get("kind", "message"))
        elif item["op"] == "publish":
            topic = ws.topic(item["topic"])
            for data in item["data"]:
                topic.publish(data)

    log = Log(backplane, key, apply) if backplane else None  # apply: what entry.decode passed
    if log is not None:
        await log.start()

    async def handle(command: dict) -> Any:
        op = command.get("op")
        if op in ("notify", "publish"):
            fields = {k: v for k, v in command.items() if k != "id"}
            if log is not None:
                await log.append([fields])  # applied when it comes back from the log, here as everywhere
            else:
                apply(entry.check(fields))
            return {"ok": True}
        if op == "socketio":
            return await start_socketio(sio, command, backplane, f"{key}:socketio")
        if op == "stats":
            return {
                "ws_connections": len(ws.open_connections),
                "notifications": len(store.all),
                "cpu": time.process_time(),
                "applied": log.applied if log is not None else None,
                "backplane_error": log.error if log is not None else "",
                "skipped": log.skipped if log is not None else 0,
            }
        raise ValueError(f"unknown op {op!r}: notify, publish, stats or stop")

    print(json.dumps({"ready": True, "name": name, "http": http.port, "ws": ws.port, "pid": os.getpid()}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            try:
                command = json.loads(line)
                if command.get("op") == "stop":
                    break
                # never stuck on one command (a backplane gone mid-append): the next line, or the end, is read
                answer = {"id": command.get("id"), "result": await asyncio.wait_for(handle(command), COMMAND_LIMIT)}
            except Exception as exc:  # a bad command is answered, never fatal
                answer = {"id": None, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)
    finally:
        # the lab's line is closed (it stopped, or died): whatever hangs below, this process ends
        watchdog = threading.Timer(EXIT_WITHIN, os._exit, (1,))
        watchdog.daemon = True
        watchdog.start()
        if log is not None:
            await log.close()
        await ws.close(grace=0.2)
        await sio.aclose()
        await http.close()


async def start_socketio(sio: socket_io.SocketIOHost, command: dict, backplane: str, channel: str) -> dict:
    """The command "socketio": Socket.IO on this server, with python-socketio's Redis manager on the
    backplane (its pub/sub ``channel``) so rooms span the servers."""
    options = socket_io.Options(
        float(command.get("ping_interval", 25.0)),
        float(command.get("ping_timeout", 20.0)),
        bool(command.get("upgrades", True)),
    )
    sio.key = str(command.get("key") or sio.key)  # the lab's clients' key, from the lab's pipe
    await sio.start(options, redis=backplane, channel=channel)
    return {"ok": True, "redis": bool(backplane)}


def _first_line() -> dict:
    """The first line of standard input, read byte by byte (nothing after it is taken from the pipe)."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    return json.loads(line) if line.strip() else {}


def main(argv: list[str]) -> None:
    name, host = argv[0], argv[1]
    config = _first_line()  # {"backplane": url, "key": log key}: on the pipe, never in argv
    asyncio.run(serve(name, host, config.get("backplane") or "", config.get("key") or ""))


if __name__ == "__main__":
    main(sys.argv[1:])
