"""Socket.IO in the lab (lesson 10), with real sockets: the packets on the wire, long polling when the
upgrade is refused, what it costs in bytes, its budget, and the request policy's one exception for it."""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import duplexlab as dl
from duplexlab.apps import socket_io
from duplexlab.clients import socket_io as socket_io_client
from duplexlab.clients.socket_io import SocketIOError
from duplexlab.wire import engineio
from duplexlab.wire.capture import Direction

from .helpers import seconds, wait_for
from .test_policy import raw


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def get(port: int, path: str, extra: str = "") -> bytes:
    return raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}\r\n".encode())


def post_text(port: int, path: str, body: str, extra: str = "") -> bytes:
    data = body.encode()
    return raw(
        port,
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain;charset=UTF-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n{extra}\r\n"
        ).encode()
        + data,
    )


OPEN = "/socket.io/?EIO=4&transport=polling"


# -- the packets -------------------------------------------------------------------------


def test_the_packets_cross_in_the_order_the_lesson_shows(lab):
    """Through a tap: the open (with the session id and the ping interval), the upgrade's probe, the
    namespace's CONNECT both ways, an event with an ack id, its ACK, and the server's ping with the
    client's pong."""
    lab.socketio(ping_interval=1, ping_timeout=5)
    tap = lab.tap()
    asha = lab.socketio_client(base_url=tap.url, name="asha")
    ravi = lab.socketio_client(name="ravi")  # not through the tap
    wait_for(lambda: asha.transport == "websocket")
    assert asha.call("chat", {"text": "hi"}) == {"ok": True, "to": 1}
    assert ravi.wait_for("chat").data == {"from": "asha", "text": "hi", "room": "lobby"}
    wait_for(lambda: "pong" in engineio.kinds(engineio.packets(tap.capture())), timeout=5)

    found = engineio.packets(tap.capture())
    kinds = engineio.kinds(found)
    order = ["open", "2probe", "3probe", "upgrade", "CONNECT", "EVENT chat", "ACK", "ping", "pong"]
    at = [kinds.index(k) for k in order]
    assert at == sorted(at), kinds
    opened = found[kinds.index("open")]
    assert opened.transport == "polling" and not opened.up
    assert isinstance(opened.data, dict) and opened.data["pingInterval"] == 1000 and opened.data["sid"] == asha.sid
    assert opened.data["upgrades"] == ["websocket"]
    connects = [p for p in found if p.kind == "CONNECT"]
    assert [p.up for p in connects] == [True, False] and {p.namespace for p in connects} == {"/chat"}
    event, ack = found[kinds.index("EVENT chat")], found[kinds.index("ACK")]
    assert event.up and not ack.up and event.ack == ack.ack is not None
    assert event.text == f'42/chat,{event.ack}["chat",{{"text":"hi"}}]'
    assert ack.data == [{"ok": True, "to": 1}]
    ping, pong = found[kinds.index("ping")], found[kinds.index("pong")]
    assert not ping.up and pong.up, "in Engine.IO 4 the server pings and the client answers"
    assert "ping (from the server)" in engineio.table(found)


def test_with_the_upgrade_refused_the_client_stays_on_long_polling_two_requests_a_message(lab):
    """``upgrades=False``: the open offers no upgrade, the client keeps polling; each acknowledged chat
    is one POST (the event) and one GET (the poll its answer ended, asked again)."""
    lab.socketio(upgrades=False)
    tap = lab.tap()
    client = lab.socketio_client(base_url=tap.url)
    assert client.transport == "polling"
    opened = engineio.packets(tap.capture())[0]
    assert opened.kind == "open" and isinstance(opened.data, dict) and opened.data["upgrades"] == []
    time.sleep(0.2)  # the first poll is out
    before = tap.counts().requests
    for i in range(10):
        assert client.call("chat", {"text": f"message {i}"})["ok"] is True
    wait_for(lambda: tap.counts().requests - before >= 20, timeout=2, why=lambda: tap.counts().requests - before)
    time.sleep(0.2)
    assert tap.counts().requests - before == 20
    assert client.transport == "polling"
    assert set(lab.socketio().transports().values()) == {"polling"}
    methods = [m.method for m in tap.capture().http_messages() if m.is_request]
    assert methods.count("POST") >= 10 and "websocket" not in tap.transcript()


def test_socket_io_adds_the_same_bytes_to_every_message(lab):
    """Over a WebSocket, each echo costs the plain WebSocket's bytes plus the Socket.IO packet's header
    both ways: ``42/chat,["echo",`` … ``]`` around the JSON string. Over polling it costs two requests."""
    text = "hello, class"
    result = dl.experiments.compare_wires(lab, messages=10, text=text)
    plain, over_ws, over_polling = result.wires
    added = len(f'42/chat,["echo",{json.dumps(text)}]') - len(text)
    assert over_ws.bytes_per_message - plain.bytes_per_message == 2 * added
    assert plain.requests_per_message == over_ws.requests_per_message == 0
    assert over_polling.requests_per_message == 2
    assert over_polling.bytes_per_message > 5 * over_ws.bytes_per_message  # every request's headers
    assert "Socket.IO over long polling" in str(result) and result["WebSocket (plain)"] is plain


# -- the server's life -------------------------------------------------------------------


def test_the_route_says_what_to_do_until_the_server_is_started(lab):
    answer = get(lab.port, OPEN)
    assert status_of(answer) == 404 and b"lab.socketio()" in answer


def test_starting_twice_keeps_it_and_other_settings_restart_it(lab):
    server = lab.socketio()
    client = lab.socketio_client()
    assert lab.socketio().sessions() == 1, "the same settings: the same server, its client kept"
    restarted = lab.socketio(ping_interval=2)
    assert "ping every 2 s" in repr(restarted)
    wait_for(lambda: not client.connected, why=lambda: client)
    assert restarted.sessions() == 0 and server.options == restarted.options
    with pytest.raises(ValueError, match="ping_interval"):
        lab.socketio(ping_interval=0.5)


def test_the_lab_closes_its_clients_and_sessions_when_it_stops():
    lab = dl.Lab().start()
    try:
        server = lab.socketio()
        clients = [lab.socketio_client(name=f"s{i}") for i in range(3)]
        assert server.sessions() == 3
        clients[0].close()
        wait_for(lambda: server.sessions() == 2)
    finally:
        t0 = time.perf_counter()
        lab.close()
        took = time.perf_counter() - t0
    assert not any(c.connected for c in clients)
    assert took < seconds(3)


def test_a_client_that_cannot_connect_says_why(lab):
    with pytest.raises(SocketIOError, match=r"lab\.socketio\(\)"):
        lab.socketio_client()  # no server started: the route answers 404


def test_a_room_only_reaches_its_members_and_a_bad_chat_is_answered_not_dropped(lab):
    lab.socketio()
    asha, ravi, meera = (lab.socketio_client(name=n) for n in ("asha", "ravi", "meera"))
    assert asha.call("join", "physics") == {"ok": True, "room": "physics", "members": 1}
    assert ravi.call("join", "physics")["members"] == 2
    t0 = time.perf_counter()
    assert asha.call("chat", {"text": "lab at 3", "room": "physics"}) == {"ok": True, "to": 1}
    assert ravi.wait_for("chat", after=t0).data["room"] == "physics"
    time.sleep(0.2)
    assert [d for d in meera.received("chat") if d["room"] == "physics"] == []
    assert "emit 'join' first" in meera.call("chat", {"text": "x", "room": "physics"})["error"]
    assert "send" in asha.call("chat", "not an object")["error"]


def test_a_classroom_lab_does_not_serve_socket_io(classroom):
    with pytest.raises(dl.DuplexLabError, match="lab of your own"):
        classroom.socketio()


def test_import_and_start_do_not_load_python_socketio():
    code = (
        "import sys, duplexlab as dl; lab = dl.start(); "
        "lab.client().get('/socket.io/?EIO=4&transport=polling', check=False); "
        "print('socketio' in sys.modules, 'engineio' in sys.modules); dl.stop()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


# -- budgets and the request policy -------------------------------------------------------


def test_other_programs_share_a_small_budget_of_sessions_and_the_labs_own_clients_keep_theirs(lab, monkeypatch):
    """A program that is not one of the lab's own clients (which send the lab's key in a header) shares
    OTHER_SESSIONS with every other such program, however it asks (an empty ``sid=`` included, which
    python-engineio reads as no sid); the student's ``lab.socketio_client`` still connects."""
    monkeypatch.setattr(socket_io, "OTHER_SESSIONS", 3)
    server = lab.socketio()
    for path in (OPEN, "/socket.io/?sid=&EIO=4&transport=polling", f"{OPEN}&sid="):
        assert status_of(get(lab.port, path)) == 200, path
    for path in (OPEN, "/socket.io/?sid=&EIO=4&transport=polling", "/socket.io/?sid&EIO=4&transport=polling"):
        answer = get(lab.port, path)
        assert status_of(answer) == 503 and b"client.close()" in answer, (path, answer)
    assert server.sessions() == 3
    odd = get(lab.port, OPEN, "X-Duplexlab-Socketio: café\r\n")
    assert status_of(odd) == 503, "a header that is not the key (not even ASCII) is just another program"
    mine = lab.socketio_client(name="asha")
    assert mine.call("echo", "still mine") == "still mine"


def test_a_closed_session_frees_its_place_at_once(lab, monkeypatch):
    monkeypatch.setattr(socket_io, "OTHER_SESSIONS", 1)
    lab.socketio()
    sid = json.loads(get(lab.port, OPEN).split(b"\r\n\r\n", 1)[1][1:])["sid"]
    assert status_of(post_text(lab.port, f"{OPEN}&sid={sid}", "1")) == 200  # Engine.IO's close
    assert status_of(get(lab.port, OPEN)) == 200


def open_raw(port: int) -> str:
    """A session of a program that is not the lab's client, joined to /chat: its sid."""
    sid = json.loads(get(port, OPEN).split(b"\r\n\r\n", 1)[1][1:])["sid"]
    assert status_of(post_text(port, f"{OPEN}&sid={sid}", "40/chat,")) == 200
    return sid


def test_a_client_that_does_not_read_what_it_is_sent_is_closed(lab):
    """Every echo waits in the session's queue for a poll that never comes; past MAX_QUEUED the session
    is closed (the lab's memory stays bounded), and other clients go on."""
    server = lab.socketio()
    other = lab.socketio_client(name="ravi")
    sid = open_raw(lab.port)
    statuses = [
        status_of(post_text(lab.port, f"{OPEN}&sid={sid}", '42/chat,["echo","x"]'))
        for _ in range(socket_io.MAX_QUEUED + 10)
    ]
    assert 400 in statuses, statuses
    wait_for(lambda: server.sessions() == 1, why=server.sessions)
    assert other.call("echo", "fine") == "fine"


def test_binary_attachments_close_their_session(lab):
    """The lab's events are JSON: a BINARY_EVENT (which would make the server hold attachments) ends it."""
    server = lab.socketio()
    sid = open_raw(lab.port)
    post_text(lab.port, f"{OPEN}&sid={sid}", '451-/chat,["echo",{"_placeholder":true,"num":0}]')
    wait_for(lambda: server.sessions() == 0, why=server.sessions)
    assert status_of(post_text(lab.port, f"{OPEN}&sid={sid}", '42/chat,["echo","x"]')) == 400


def test_a_client_joins_at_most_max_rooms(lab):
    lab.socketio()
    asha = lab.socketio_client(name="asha")
    answers = [asha.call("join", f"room-{i}") for i in range(socket_io.MAX_ROOMS + 4)]
    assert [a["ok"] for a in answers].count(True) == socket_io.MAX_ROOMS - 1  # the lobby is one of them
    assert f"{socket_io.MAX_ROOMS} rooms at most" in answers[-1]["error"]
    assert asha.call("join", "room-0")["ok"] is True, "a room it is in already"
    assert asha.call("chat", {"text": "still talking", "room": "room-0"})["ok"] is True


def test_jsonp_polling_is_refused_and_answers_are_not_sniffed(lab):
    lab.socketio()
    assert status_of(get(lab.port, f"{OPEN}&j=0")) == 400
    answer = get(lab.port, OPEN)
    assert b"X-Content-Type-Options: nosniff" in answer and b"Cache-Control: no-store" in answer


def test_the_notebooks_client_keeps_a_bounded_amount_of_what_it_received(monkeypatch):
    monkeypatch.setattr(socket_io_client, "KEPT_BYTES", 10_000)
    client = socket_io_client.SocketIOClient("http://127.0.0.1:9", loop=dl.LoopThread())
    for i in range(100):
        asyncio.run(client._keep("chat", {"text": "x" * 1000, "i": i}))
    kept = client.received("chat")
    last = kept[-1]
    assert 1 <= len(kept) <= 10 and isinstance(last, dict) and last["i"] == 99


def test_a_packet_over_the_limit_ends_its_session_and_nothing_else(lab):
    lab.socketio(upgrades=False)
    client = lab.socketio_client()
    other = lab.socketio_client()
    with pytest.raises(SocketIOError):
        client.call("echo", "x" * (socket_io.MAX_PACKET + 1), timeout=2)
    wait_for(lambda: not client.connected, why=lambda: client)
    assert other.call("echo", "still here") == "still here"


def test_pages_of_other_origins_get_nothing(lab):
    """The exception in rule 3 is only about Content-Type: rules 1 and 2 still hold at /socket.io/,
    and opening a session counts as a change, so a cross-site GET with no Origin (an <img>) opens none."""
    server = lab.socketio()
    port = lab.port
    assert status_of(get(port, OPEN, "Origin: http://evil.example\r\n")) == 403
    assert status_of(get(port, OPEN, "Sec-Fetch-Site: cross-site\r\n")) == 403
    assert status_of(get(port, OPEN, "Sec-Fetch-Site: same-site\r\n")) == 403
    rebound = f"GET {OPEN} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    assert status_of(raw(port, rebound.encode())) == 421
    assert server.sessions() == 0
    client = lab.socketio_client()  # a real session, whose id a foreign page could not read
    sid_path = f"{OPEN}&sid={client.sid}"
    answer = post_text(port, sid_path, '42/chat,["chat",{"text":"forged"}]', "Origin: http://evil.example\r\n")
    assert status_of(answer) == 403
    assert status_of(post_text(port, f"{OPEN}&sid=guessed", '42/chat,["chat",{}]')) == 400
    assert client.received("chat") == []


def test_text_plain_is_let_through_only_for_socket_io_posts(lab):
    lab.socketio()
    answer = post_text(lab.port, "/api/notifications/asha", '{"text": "hi"}')
    assert status_of(answer) == 415, "rule 3 holds everywhere else"
    answer = raw(
        lab.port,
        (
            f"PUT {OPEN} HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\nContent-Type: text/plain\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode(),
    )
    assert status_of(answer) == 415, "only a POST"


# -- the decoder (no sockets) ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind, namespace, ack",
    [
        ('0{"sid":"abc","pingInterval":25000}', "open", "/", None),
        ("2probe", "2probe", "/", None),
        ("3", "pong", "/", None),
        ("5", "upgrade", "/", None),
        ("6", "noop", "/", None),
        ('40/chat,{"name":"asha"}', "CONNECT", "/chat", None),
        ('42["chat","hi"]', "EVENT chat", "/", None),
        ('42/chat,17["chat",{"text":"hi"}]', "EVENT chat", "/chat", 17),
        ('43/chat,17[{"ok":true}]', "ACK", "/chat", 17),
        ('451-/chat,["file",{"_placeholder":true,"num":0}]', "BINARY_EVENT file", "/chat", None),
        ("41/chat,", "DISCONNECT", "/chat", None),
        ("hello", "?", "/", None),
    ],
)
def test_each_packet_type_is_read_from_its_text(text, kind, namespace, ack):
    packet = engineio.parse(text)
    assert (packet.kind, packet.namespace, packet.ack) == (kind, namespace, ack)
    assert packet.meaning()


def test_a_long_polls_body_holds_several_packets():
    assert engineio.split_payload(b'42["a",1]\x1e42["b",2]\x1e2') == ['42["a",1]', '42["b",2]', "2"]
    assert engineio.parse("2", direction=Direction.UP).meaning() == "ping"


def test_the_lessons_url_is_the_engine_io_open():
    assert urlsplit(OPEN).path == engineio.PATH == socket_io.ENGINE_IO_PATH


def test_a_tap_in_front_of_both_servers_sends_socket_ios_upgrade_to_the_http_server(lab):
    """``lab.tap(websockets=True)`` sends WebSocket handshakes to the WebSocket server, except Socket.IO's,
    whose server is the HTTP one."""
    lab.socketio()
    tap = lab.tap(websockets=True)
    client = lab.socketio_client(base_url=tap.url)
    wait_for(lambda: client.transport == "websocket", why=lambda: client)
    assert client.call("echo", "through one tap") == "through one tap"
    with lab.connect("/echo", base_url=tap.ws_url) as ws:  # the lab's own WebSockets still go through
        ws.send("plain")
        assert ws.recv(timeout=5) == "plain"


def test_a_name_stands_for_one_client_so_a_cell_run_twice_leaves_one(lab):
    server = lab.socketio()
    first = lab.socketio_client(name="asha")
    again = lab.socketio_client(name="asha")
    other = lab.socketio_client(name="asha", namespace="/")  # another namespace: another client
    assert not first.connected and again.connected and other.connected
    wait_for(lambda: server.sessions() == 2, why=server.sessions)
    held = len(lab.owned)
    again.close()
    assert len(lab.owned) == held - 1, "a client closed by its user is forgotten by the lab"


def test_the_lessons_claims_read_the_newest_session_of_a_tap(lab):
    """A cell run again opens a second session through the same tap: the claims still hold, for it."""
    lab.socketio(ping_interval=1)
    tap = lab.tap()
    for _ in range(2):
        client = lab.socketio_client(base_url=tap.url, name="asha")
        wait_for(lambda client=client: client.transport == "websocket")
        client.call("chat", {"text": "hi"})
    wait_for(lambda: "pong" in engineio.kinds(engineio.packets(tap.capture())[-6:]), timeout=5)
    claims = dl.experiments.packet_claims(tap.capture())
    assert claims.count("✓") == 5 and "○" not in claims and "✗" not in claims, claims
    assert str(dl.experiments.packet_claims(lab.tap().capture())).startswith("○ no Socket.IO packets yet")


def test_python_socketio_has_no_connection_state_recovery_as_the_lesson_says():
    """Lesson 10 says the lab's python-socketio has no connection state recovery (the JavaScript server's
    replay of missed events, 4.6 and later). A version that adds it makes this fail: then the lesson
    should show it, measured."""
    import socketio

    options = inspect.signature(socketio.AsyncServer.__init__).parameters
    assert not [name for name in options if "recover" in name.lower()]
    source = inspect.getsource(socketio.async_server) + inspect.getsource(socketio.base_server)
    assert "recover" not in source.lower()
    lesson = (Path(__file__).parent.parent / "notebooks" / "10-socket-io.ipynb").read_text()
    assert "python-socketio, which has no such feature" in lesson
