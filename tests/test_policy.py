"""The request policy: Host, Origin and JSON-only changes, for HTTP and WebSocket alike."""

from __future__ import annotations

import json
import socket

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus

from duplexlab.apps.realtime import close_request
from duplexlab.runtime.policy import TICKET_PREFIX, RequestPolicy, normalize_origin, split_host

from .helpers import seconds, wait_for


def raw(url_port: int, request: bytes) -> bytes:
    """Send ``request`` on a fresh socket and read the whole answer."""
    with socket.create_connection(("127.0.0.1", url_port), timeout=seconds(5)) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def post(port: int, path: str, body: bytes, *, content_type: str, extra: str = "") -> bytes:
    return raw(
        port,
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
        ).encode()
        + body,
    )


def test_policy_rules_in_isolation():
    """Each rule on its own: host names, origins, JSON for changes, Sec-Fetch-Site."""
    policy = RequestPolicy(own_ports={8000})
    ok = dict(host="127.0.0.1:8000", content_type="application/json")

    def status(method: str, **headers: str | None) -> int | None:
        """The refusal's status; None when the policy lets the request pass."""
        refusal = policy.check(method, **headers)
        return None if refusal is None else refusal.status

    assert policy.check("POST", **ok) is None
    assert policy.check("GET", host="localhost:8000") is None
    assert policy.check("GET", host="[::1]:8000") is None
    assert status("GET", host="attacker.example:8000") == 421
    assert status("GET", host=None) == 421
    assert status("GET", host="127.0.0.1@evil:80") == 421
    assert status("GET", host="[::1].attacker.example") == 421
    assert status("GET", host="localhost:99999") == 421
    assert status("POST", **ok, origin="http://127.0.0.1:9999") == 403
    assert status("POST", **ok, origin="null") == 403
    assert policy.check("POST", **ok, origin="http://127.0.0.1:8000") is None  # the lab's own
    assert status("POST", host="127.0.0.1:8000", content_type="text/plain") == 415
    assert status("POST", host="127.0.0.1:8000", content_type="application/x-www-form-urlencoded") == 415
    assert status("POST", **ok, fetch_site="cross-site") == 403
    assert policy.check("GET", host="127.0.0.1:8000", fetch_site="cross-site") is None
    policy.allow_origin("HTTP://LocalHost:8888/")
    assert policy.check("POST", **ok, origin="http://localhost:8888") is None
    policy.allow_host("hub.example.org")
    assert policy.check("GET", host="hub.example.org:443") is None
    policy.allow_host("other.example:8080")
    assert policy.check("GET", host="other.example:8080") is None
    assert status("GET", host="other.example:8081") == 421


def test_origins_and_hosts_are_parsed_strictly():
    """Origins normalize to scheme://host[:port]; garbage raises ValueError with an example."""
    assert normalize_origin("https://Example.org:443") == "https://example.org"
    assert split_host("[::1]:8000") == ("::1", 8000)
    for bad in ("null", "ftp://x", "http://x/path", ""):
        with pytest.raises(ValueError):
            normalize_origin(bad)
    with pytest.raises(ValueError, match="not a host"):
        split_host("a b")


def test_a_text_plain_post_cannot_submit_code_or_notify(lab):
    """`no-cors` text/plain and form bodies are refused with 415; nothing is submitted or created."""
    code = b"{\"code\": \"open('x', 'w').write('x')\"}"
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = post(lab.port, "/api/judge/submissions", code, content_type=content_type)
        assert answer.startswith(b"HTTP/1.1 415"), answer[:80]
        assert b"application/json" in answer
        answer = post(lab.port, "/api/users/asha/notifications", b'{"text": "forged"}', content_type=content_type)
        assert answer.startswith(b"HTTP/1.1 415")
    assert lab.judge.submissions == [] and lab.notifications.all == []


def test_a_page_from_another_origin_is_refused_even_with_json(lab):
    """A POST with an unknown Origin gets 403 naming lab.allow_origin; once allowed it works."""
    evil = "Origin: http://127.0.0.1:9999\r\n"
    answer = post(
        lab.port, "/api/users/asha/notifications", b'{"text": "hi"}', content_type="application/json", extra=evil
    )
    assert answer.startswith(b"HTTP/1.1 403") and b"lab.allow_origin" in answer
    lab.allow_origin("http://127.0.0.1:9999")
    answer = post(
        lab.port, "/api/users/asha/notifications", b'{"text": "hi"}', content_type="application/json", extra=evil
    )
    assert answer.startswith(b"HTTP/1.1 201")


def test_dns_rebinding_hosts_are_refused_on_http_and_websocket(lab):
    """`Host: attacker.example` is refused (421) on the HTTP port and at the WebSocket handshake."""
    answer = raw(lab.port, b"GET /api/health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 421") and b"allow_host" in answer
    handshake = (
        b"GET /echo HTTP/1.1\r\nHost: attacker.example\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert raw(lab.websockets.port, handshake).startswith(b"HTTP/1.1 421")
    with pytest.raises(InvalidStatus) as info:  # two Host headers: refused too, not a 500
        lab.connect("/echo", additional_headers={"Host": "attacker.example"})
    assert info.value.response.status_code == 421
    lab.allow_host("attacker.example")
    assert raw(lab.port, b"GET /api/health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200"
    )


def test_every_lesson_path_through_a_tap_still_works(lab):
    """A tap keeps the client's loopback Host: HTTP, long polling, SSE and WebSockets pass."""
    tap = lab.tap()
    client = lab.client(tap.url)
    assert client.get("/api/health").status == 200
    assert client.post("/api/users/asha/notifications", json={"text": "hi"}).status == 201
    assert client.get("/api/users/asha/notifications/wait?timeout=0").json()["notifications"]
    ws_tap = lab.tap(lab.ws_url)
    ws = lab.connect("/echo", base_url=ws_tap.url)
    ws.send("through the tap")
    assert ws.recv(timeout=seconds(5)) == "through the tap"
    ws.close()


def test_a_header_sent_twice_is_refused(lab):
    """Two Origin headers (the lab's own and another) are refused, not read as the first one."""
    body = b'{"text": "hi"}'
    answer = post(
        lab.port,
        "/api/users/asha/notifications",
        body,
        content_type="application/json",
        extra=f"Origin: http://127.0.0.1:{lab.port}\r\nOrigin: http://evil.example\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 403")
    assert lab.notifications.all == []


def proxied(lab, path: str, ticket: str | None):
    """A handshake as jupyter-server-proxy forwards it: the browser's Host and Origin (a hub's), unchanged."""
    from websockets.sync.client import connect
    from websockets.typing import Origin, Subprotocol

    offered = [Subprotocol("duplexlab"), *([Subprotocol(TICKET_PREFIX + ticket)] if ticket else [])]
    return connect(
        f"ws://hub.example:8000{path}",
        sock=socket.create_connection(("127.0.0.1", lab.websockets.port)),
        origin=Origin("https://hub.example:8000"),
        subprotocols=offered,
        proxy=None,
        open_timeout=seconds(5),
        legacy=True,
    )


def test_a_ticket_lets_in_a_handshake_forwarded_by_the_notebook_servers_proxy(lab):
    """A hub's Host and Origin open a socket only with a valid ticket (recorded via="proxy");
    without one, or with a used one, 421 as for any other host; a malformed Host never."""
    policy = lab.policy
    ticket = policy.issue_ticket("widget A")
    ws = proxied(lab, "/echo", ticket)
    ws.send("through the proxy")
    assert ws.recv(timeout=seconds(5)) == "through the proxy"
    record = lab.websockets.open_connections[-1]
    assert (record.owner, record.via) == ("widget A", "proxy")
    for spent in (None, ticket, "made-up"):
        with pytest.raises(InvalidStatus) as info:
            proxied(lab, "/echo", spent)
        assert info.value.response.status_code == 421
    assert policy.admit(policy.issue_ticket("widget A"), "hub example:80") == policy.check("GET", host="hub example:80")
    ws.close()


def test_through_the_proxy_a_widget_closes_with_its_code_in_a_last_message(lab):
    """jupyter-server-proxy drops close codes: a proxied widget's {"type": "close", ...} makes the lab
    close with that code and reason, and the record says so; on a direct socket it is just a message."""
    ws = proxied(lab, "/chat?name=priya", lab.policy.issue_ticket("widget B"))
    ws.recv(timeout=seconds(5))  # welcome
    ws.send(json.dumps({"type": "close", "code": 1000, "reason": "unmount"}))
    with pytest.raises(ConnectionClosedOK):
        while True:
            ws.recv(timeout=seconds(5))
    assert (ws.close_code, ws.close_reason) == (1000, "unmount")
    record = next(r for r in lab.websockets.records if r.owner == "widget B")
    wait_for(lambda: not record.open, interval=0.01)  # the lab's side finishes its close a moment later
    assert (record.close_code, record.close_reason, record.via) == (1000, "unmount", "proxy")
    for bad in ({"type": "close", "code": 1006}, {"type": "close", "code": 1000, "reason": "x" * 200}):
        assert close_request(json.dumps(bad)) is None
    direct = lab.connect("/echo")
    direct.send(json.dumps({"type": "close", "code": 4000, "reason": "not from a proxy"}))
    assert json.loads(direct.recv(timeout=seconds(5)))["reason"] == "not from a proxy"
    direct.close()


def test_a_proxy_that_keeps_a_loopback_host_is_still_recorded_as_the_proxy(lab):
    """Docker or an SSH tunnel in front of the notebook server: the proxied handshake's Host is loopback,
    so the widget labels the way itself (a subprotocol); the record says proxy and the close code holds."""
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    ticket = lab.policy.issue_ticket("widget C")
    offered = [Subprotocol(p) for p in ("duplexlab", TICKET_PREFIX + ticket, "duplexlab.via.proxy")]
    with connect(lab.ws_url + "/echo", subprotocols=offered, proxy=None, open_timeout=seconds(5)) as ws:
        assert ws.subprotocol == "duplexlab"
        ws.send(json.dumps({"type": "close", "code": 4001, "reason": "unmount"}))
        with pytest.raises(ConnectionClosed):  # 4001 is not a normal closure: ConnectionClosedError
            ws.recv(timeout=seconds(5))
    record = next(r for r in lab.websockets.records if r.owner == "widget C")
    wait_for(lambda: not record.open, interval=0.01)
    assert (record.via, record.close_code, record.close_reason) == ("proxy", 4001, "unmount")
