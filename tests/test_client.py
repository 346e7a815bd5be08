"""The HTTP clients: blocking and async, with history and clear errors."""

import asyncio

import pytest

import duplexlab as dl


def test_sync_client_records_history_and_timing(lab):
    """Each request lands in history with sent/done times in order."""
    client = lab.client()
    client.get("/api/health")
    client.post("/api/users/asha/notifications", json={"text": "hi"})
    first, second = client.history
    assert (first.status, second.status) == (200, 201)
    assert first.t_sent < first.t_done <= second.t_sent < second.t_done
    assert second.json()["text"] == "hi"


def test_async_client_works_on_its_own_loop(lab):
    """AsyncClient awaited on a loop that is not the lab's reaches the lab."""

    async def main():
        async with dl.AsyncClient(lab.url) as client:
            await client.post("/api/users/ravi/notifications", json={"text": "yo"})
            reply = await client.get("/api/users/ravi/notifications")
            return reply.json()["notifications"], len(client.history)

    notes, count = asyncio.run(main())
    assert [n["text"] for n in notes] == ["yo"] and count == 2


def test_check_false_returns_error_replies(lab):
    """check=False hands back a 404 reply; raise_for_status then raises it."""
    reply = lab.client(check=False).get("/api/notifications/5")
    assert reply.status == 404 and not reply.ok
    with pytest.raises(dl.HTTPStatusError, match="404"):
        reply.raise_for_status()


def test_standalone_clients_share_one_thread_that_stop_ends(lab):
    """Clients made without a lab share one loop thread (not one each); dl.stop() ends it."""
    import threading

    def shared() -> int:
        return sum(t.name == "duplexlab-clients" for t in threading.enumerate())

    for _ in range(5):
        with dl.Client(lab.url) as client:
            assert client.get("/api/health").ok
    dropped = dl.Client(lab.url)
    assert dropped.get("/api/health").ok
    assert shared() == 1
    dl.stop()
    assert shared() == 0
    assert dl.Client(lab.url, check=False) is not None  # a new client after stop starts it again
    assert shared() == 1
    dl.stop()


def test_sync_and_async_clients_mirror_each_other():
    """Client and AsyncClient have the same public names (close / aclose aside)."""

    def names(cls) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")} - {"close", "aclose"}

    assert names(dl.Client) == names(dl.AsyncClient)


def test_unreachable_server_raises_a_connection_error():
    """A request to a port where nothing listens fails fast with a connection error."""
    with dl.Client("http://127.0.0.1:9", timeout=2) as client:
        with pytest.raises(OSError):
            client.get("/")
