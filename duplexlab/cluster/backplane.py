"""The backplane: one Redis-compatible server that every server process writes to and reads from.

``start_backplane(spec)`` gives a running :class:`Backplane`:

- ``"auto"``: a real ``redis-server`` if the machine has one, else the embedded one; the
  environment variable ``DUPLEXLAB_BACKPLANE`` (``embedded``, ``redis-server`` or a ``redis://``
  URL) overrides that choice, e.g. to run the pip-only path on a machine that has ``redis-server``;
- ``"redis-server"``: Debian's (or any) ``redis-server`` binary, on a free loopback port,
  with a random password (loopback is not a boundary: other local users could reach it),
  no persistence; stopped with the lab. Its configuration, password included, goes to it on
  its standard input (``redis-server -``), never in a command line, which every user of the
  machine can read (``ps``, ``/proc/<pid>/cmdline``);
- ``"embedded"``: fakeredis's TCP server in a process of its own (``pip`` only; it serves
  pushes by polling its sockets, so a hop costs more than on a real Redis: the lesson
  measures it and says which backplane ran), behind a door that wants the password first
  (:mod:`.embedded`), which it tells the lab on a pipe;
- ``"redis://host:port"`` (or ``rediss://``): a Redis or Valkey you run; never stopped by us.

What the servers do with it is in :mod:`duplexlab.cluster.node`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import BackplaneError

__all__ = ["Backplane", "auto_choice", "start_backplane"]

START_TIMEOUT = 10.0
ENV = "DUPLEXLAB_BACKPLANE"  # overrides what "auto" picks


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _answers(host: str, port: int, password: str | None, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING there (RESP spoken by hand? no: redis-py's sync client)."""
    import redis

    client = redis.Redis(
        host=host, port=port, password=password, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


@dataclass
class Backplane:
    """A running backplane: where it is, what it is, and the process we started for it (if any)."""

    url: str
    kind: str  # what ran, in words: "redis-server 7.0.15", "embedded fakeredis 2.41.0", "Redis at …"
    embedded: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def close(self) -> None:
        """Stop the process we started (a given URL is left alone). Twice is harmless."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the supervised program's cue to stop
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __repr__(self) -> str:
        return f"<Backplane {self.kind} at {urlsplit(self.url).hostname}:{urlsplit(self.url).port}>"


def redis_server_path() -> str | None:
    """The ``redis-server`` binary on this machine, if any."""
    return shutil.which("redis-server")


def auto_choice() -> str:
    """What ``"auto"`` starts: ``$DUPLEXLAB_BACKPLANE`` if set, else ``"redis-server"`` if this machine
    has one, else ``"embedded"``.

    Raises:
        ValueError: ``DUPLEXLAB_BACKPLANE`` holds something else (or ``auto``).
    """
    chosen = os.environ.get(ENV, "").strip()
    if not chosen:
        return "redis-server" if redis_server_path() else "embedded"
    if chosen in ("embedded", "redis-server") or chosen.startswith(("redis://", "rediss://", "valkey://")):
        return chosen
    raise ValueError(f"{ENV} is 'embedded', 'redis-server' or a redis:// URL, not {chosen!r}; unset it for 'auto'")


def start_backplane(spec: str = "auto", *, host: str = "127.0.0.1") -> Backplane:
    """Start (or connect to) a backplane; see the module docstring for ``spec``.

    Raises:
        ValueError: an unknown spec (or ``$DUPLEXLAB_BACKPLANE``), or ``"redis-server"`` on a machine
            without one.
        BackplaneError: it did not answer within 10 s (its log is in the message).
    """
    if spec == "auto":
        spec = auto_choice()
    if spec.startswith(("redis://", "rediss://", "valkey://")):
        url = spec.replace("valkey://", "redis://", 1)
        parts = urlsplit(url)
        if not _answers(parts.hostname or host, parts.port or 6379, parts.password):
            raise BackplaneError(f"no Redis answers at {parts.hostname}:{parts.port or 6379}; start it, or use 'auto'")
        return Backplane(url, f"Redis at {parts.hostname}:{parts.port or 6379} (yours)")
    if spec == "redis-server":
        return _start_redis_server(host)
    if spec == "embedded":
        return _start_embedded(host)
    raise ValueError(f"backplane is 'auto', 'redis-server', 'embedded' or a redis:// URL, not {spec!r}")


def _start_redis_server(host: str) -> Backplane:
    binary = redis_server_path()
    if binary is None:
        raise ValueError("this machine has no redis-server (Debian: apt install redis-server); use 'embedded'")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    number = next((w.split("=", 1)[1] for w in version.split() if w.startswith("v=")), "?")
    password = secrets.token_hex(16)
    for _ in range(3):  # a free port can be taken between our check and its bind: try another
        port = _free_port(host)
        config = "".join(
            f"{line}\n"
            for line in (
                f"port {port}",
                f"bind {host}",
                'save ""',
                "appendonly no",
                f"requirepass {password}",
                "protected-mode yes",
                "loglevel warning",
            )
        )
        proc = subprocess.Popen(  # under a supervisor that stops it when the lab's line to it closes
            [sys.executable, "-m", "duplexlab.cluster.supervise", "--feed", binary, "-"],  # config on stdin
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a kernel interrupt (SIGINT to its group) does not reach it
        )
        assert proc.stdin is not None
        try:  # the password travels on the pipe, never in a command line (which every user can read)
            proc.stdin.write((json.dumps({"stdin": config}) + "\n").encode())
            proc.stdin.flush()
        except OSError:
            pass  # it ended already: said below
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(host, port, password, timeout=0.2):
                url = f"redis://:{password}@{host}:{port}/0"
                return Backplane(url, f"redis-server {number}", process=proc)
            time.sleep(0.05)
        Backplane("", "", process=proc).close()
    raise BackplaneError(f"redis-server did not start on {host} (tried 3 ports)")


def _start_embedded(host: str) -> Backplane:
    import fakeredis

    proc = subprocess.Popen(
        [sys.executable, "-m", "duplexlab.cluster.embedded", host],
        stdin=subprocess.PIPE,  # it ends when this closes (the lab stopped, or died)
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # one line: {"port": ..., "password": ...}
    try:
        ready = json.loads(line)
    except ValueError:
        Backplane("", "", process=proc).close()
        raise BackplaneError(f"the embedded backplane did not start: {line!r}") from None
    url = f"redis://:{ready['password']}@{host}:{ready['port']}/0"
    return Backplane(url, f"embedded fakeredis {fakeredis.__version__}", embedded=True, process=proc)
