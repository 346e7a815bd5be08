"""Private notifications travel only on the token-checked channel; bad tokens and bugs close sockets."""

from __future__ import annotations

import json
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from .helpers import seconds, wait_for


def test_an_eavesdropper_on_every_open_channel_sees_no_private_message(lab):
    """WebSocket, SSE, long poll, the list and the by-id route: none carries a private notification."""
    heard: list[str] = []
    open_ws = lab.connect("/notifications/meera")
    assert json.loads(open_ws.recv(timeout=seconds(2)))["type"] == "subscribed"
    token = lab.issue_token("meera")
    private_ws = lab.connect("/private/meera")
    private_ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(private_ws.recv(timeout=seconds(2)))["private"] is True

    sse = lab.client()
    before = len(lab.notifications._listeners)
    stream = threading.Thread(
        target=lambda: heard.extend(
            e.json()["text"] for e in sse.events("/api/users/meera/events", count=1, timeout=seconds(5))
        ),
        daemon=True,
    )
    stream.start()
    waiter = lab.client()
    long_poll: list = []
    polling = threading.Thread(
        target=lambda: long_poll.append(waiter.get("/api/users/meera/notifications/wait?timeout=3").json()), daemon=True
    )
    polling.start()
    wait_for(lambda: len(lab.notifications._listeners) == before + 2)  # both are waiting

    secret = lab.notify("meera", "your code is 424242", kind="otp", private=True)
    assert json.loads(private_ws.recv(timeout=seconds(2)))["text"] == "your code is 424242"
    lab.notify("meera", "ravi liked your photo")  # an ordinary one, seen everywhere

    assert json.loads(open_ws.recv(timeout=seconds(2)))["text"] == "ravi liked your photo"
    assert json.loads(private_ws.recv(timeout=seconds(2)))["text"] == "ravi liked your photo"
    stream.join(seconds(5))
    polling.join(seconds(5))
    assert heard == ["ravi liked your photo"]
    assert [n["text"] for n in long_poll[0]["notifications"]] == ["ravi liked your photo"]
    listed = lab.client().get("/api/users/meera/notifications").json()["notifications"]
    assert [n["text"] for n in listed] == ["ravi liked your photo"]
    by_id = lab.client(check=False).get(f"/api/notifications/{secret.id}")
    assert by_id.status == 404


@pytest.mark.parametrize(
    "token", [["a", "list"], 42, None, "x" * 1_000_000, ""], ids=["list", "number", "null", "1 MB", "empty"]
)
def test_a_malformed_token_closes_with_1008(lab, token):
    """A list, a number, nothing, 1 MB or an empty string as the token: 1008 and a closed socket."""
    ws = lab.connect("/private/meera", max_size=None)
    ws.send(json.dumps({"type": "auth", "token": token}))
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=seconds(3))
    close = info.value.rcvd
    assert close is not None and close.code == 1008, info.value
    wait_for(lambda: lab.websockets.open_connections == [], timeout=2, interval=0.01)  # closed on the server's side too


def test_an_expired_token_is_refused(lab):
    """A token past its time to live closes the channel with 1008 'expired'."""
    token = lab.issue_token("meera", ttl=0.05)
    time.sleep(0.1)
    ws = lab.connect("/private/meera")
    ws.send(json.dumps({"type": "auth", "token": token}))
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=seconds(3))
    close = info.value.rcvd
    assert close is not None and close.code == 1008 and "expired" in close.reason


def test_a_handler_that_fails_closes_with_1011(lab):
    """A bug in a channel's handler closes its socket with 1011 instead of leaving it silent."""

    async def broken(ws, record):
        raise RuntimeError("a bug")

    lab.websockets.echo.serve = broken
    ws = lab.connect("/echo")
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=seconds(3))
    close = info.value.rcvd
    assert close is not None and close.code == 1011 and "RuntimeError" in close.reason


def test_two_ashas_in_one_room_are_told_apart(lab):
    """A second 'asha' joins as 'asha-2' and is told so; messages say who is who."""
    first = lab.connect("/chat?name=asha")
    assert json.loads(first.recv(timeout=seconds(2)))["you"] == "asha"
    second = lab.connect("/chat?name=asha")
    welcome = json.loads(second.recv(timeout=seconds(2)))
    assert welcome["you"] == "asha-2" and "already in the room" in welcome["renamed"]
    assert welcome["online"] == ["asha", "asha-2"]


def test_private_notifications_cannot_be_forged_over_http(lab):
    """POST with "private": true is refused (400): only the server makes private notifications."""
    reply = lab.client(check=False).post(
        "/api/users/meera/notifications", json={"text": "your code is 000000", "private": True}
    )
    assert reply.status == 400 and "lab.notify" in reply.json()["hint"]
    assert lab.notifications.all == []
