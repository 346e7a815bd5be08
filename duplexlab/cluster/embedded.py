"""The embedded backplane: fakeredis's TCP server in a process of its own.

``python -m duplexlab.cluster.embedded [HOST]`` serves on a free port of HOST
(127.0.0.1 by default) with a random password, prints one JSON line
``{"port": ..., "password": ...}`` and serves until its standard input closes
(the lab stopped it, or the lab's process ended).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading

__all__ = ["main"]


def main(host: str = "127.0.0.1") -> None:
    import redis
    from fakeredis import TcpFakeServer

    server = TcpFakeServer((host, 0), server_type="redis")
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="backplane", daemon=True).start()
    password = secrets.token_hex(16)  # loopback is not a boundary: other local users could connect
    admin = redis.Redis(host=host, port=port)
    admin.config_set("requirepass", password)
    admin.close()
    print(json.dumps({"port": port, "password": password}), flush=True)
    sys.stdin.read()  # until the lab closes it
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main(*sys.argv[1:2])
