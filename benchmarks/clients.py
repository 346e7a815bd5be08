"""A crowd of WebSocket clients in a process of its own, for benchmarks/run.py.

    python benchmarks/clients.py broadcast WS_URL N MESSAGES
    python benchmarks/clients.py idle WS_URL N
    python benchmarks/clients.py listen WS_URL N
    python benchmarks/clients.py poll HTTP_URL N
    python benchmarks/clients.py server


Prints "ready" once all N are connected. ``broadcast``: subscribes N sockets
to the notifications of the user "crowd", records when each notification
arrives (perf_counter is the system's monotonic clock, shared with the lab's
process), and after MESSAGES of them prints a JSON list of [notification id,
seconds from its creation on the server to its arrival] for every delivery. ``idle``: connects N sockets
to /echo and holds them until its standard input closes. ``listen``: subscribes N sockets to the
notifications of "crowd" and reads what comes until its standard input closes. ``poll``: N clients,
each on a connection of its own, ask ``GET /api/users/crowd/notifications`` once a second (spread
over the second) until its standard input closes. ``server``: starts a lab in a fresh
process, prints its WebSocket URL, and serves until its standard input closes
(so its memory can be read from outside, untouched by other benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect


async def broadcast(url: str, n: int, messages: int) -> None:
    conns = [
        await connect(f"{url}/notifications/crowd", proxy=None, compression=None, max_queue=None) for _ in range(n)
    ]
    for ws in conns:
        await ws.recv()  # subscribed
    print("ready", flush=True)
    deliveries: list[list[float]] = []

    async def listen(ws) -> None:
        got = 0
        while got < messages:
            raw = await ws.recv()
            t = time.perf_counter()
            data = json.loads(raw)
            if data["type"] == "notification":
                deliveries.append([data["id"], t - data["t"]])
                got += 1

    await asyncio.wait_for(asyncio.gather(*(listen(ws) for ws in conns)), 120)
    print(json.dumps(deliveries), flush=True)
    await asyncio.gather(*(ws.close() for ws in conns))


async def idle(url: str, n: int) -> None:
    conns = [await connect(f"{url}/echo", proxy=None, compression=None) for _ in range(n)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(ws.close() for ws in conns))


async def listen(url: str, n: int) -> None:
    conns = [
        await connect(f"{url}/notifications/crowd", proxy=None, compression=None, max_queue=None) for _ in range(n)
    ]
    print("ready", flush=True)

    async def read(ws) -> None:
        async for _ in ws:
            pass

    readers = [asyncio.ensure_future(read(ws)) for ws in conns]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)


async def poll(url: str, n: int) -> None:
    import aiohttp

    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(n)]
    stop = asyncio.Event()

    async def one(k: int, session) -> None:
        await asyncio.sleep(k / n)  # spread over the second
        while not stop.is_set():
            async with session.get(f"{url}/api/users/crowd/notifications") as reply:
                await reply.read()
            await asyncio.sleep(1.0)

    print("ready", flush=True)
    tasks = [asyncio.ensure_future(one(k, s)) for k, s in enumerate(sessions)]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(s.close() for s in sessions))


def server() -> None:
    import duplexlab as dl

    with dl.Lab() as lab:
        print(lab.ws_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server()
        sys.exit(0)
    mode, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "broadcast":
        asyncio.run(broadcast(url, n, int(sys.argv[4])))
    elif mode == "listen":
        asyncio.run(listen(url, n))
    elif mode == "poll":
        asyncio.run(poll(url, n))
    else:
        asyncio.run(idle(url, n))
