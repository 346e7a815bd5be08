"""Rule 4 of the request policy: the browser code runner's page, its unlock and its cookie.

These are the hostile cases a page cannot get past without the widget's ticket: the
browser-level ones (a foreign page framing the runner, postMessage from another window)
are in tests/test_browser_code_in_browser.py.
"""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

import duplexlab as dl
from duplexlab.runtime.policy import RUNNER_OWNER, RUNNER_PATH, RUNNER_UNLOCK, RequestPolicy, runner_tokens

from .test_policy import raw

TAP_ORIGIN = "http://127.0.0.1:{port}"


def unlock(
    port: int, ticket: str, origin: str, *, host: str | None = None, site: str = "same-origin"
) -> tuple[int, str, bytes]:
    """POST the ticket to the runner's unlock: (status, Set-Cookie header, body)."""
    body = json.dumps({"ticket": ticket}).encode()
    answer = raw(
        port,
        (
            f"POST {RUNNER_UNLOCK} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nOrigin: {origin}\r\n"
            f"Sec-Fetch-Site: {site}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        + body,
    )
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    cookie = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("set-cookie:")), "")
    return int(lines[0].split()[1]), cookie, rest


def get(port: int, path: str, *, host: str, origin: str | None = None, cookie: str = "", site: str = "") -> int:
    extra = (f"Origin: {origin}\r\n" if origin else "") + (f"Cookie: {cookie}\r\n" if cookie else "")
    extra += f"Sec-Fetch-Site: {site}\r\n" if site else ""
    answer = raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())
    return int(answer.split(b" ", 2)[1])


def runner_ticket(lab: dl.Lab, n: int = 1) -> str:
    return lab.policy.issue_ticket(f"{RUNNER_OWNER} {n}")


def test_the_runner_page_is_served_to_anyone_and_holds_no_secret(lab):
    answer = raw(lab.port, f"GET {RUNNER_PATH} HTTP/1.1\r\nHost: hub.example\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"text/html" in answer and b"Referrer-Policy: no-referrer" in answer
    assert b"duplexlab.ticket" not in answer and b"Set-Cookie" not in answer


def test_a_ticket_buys_one_cookie_tied_to_its_origin_and_only_once(lab):
    tap = lab.tap(websockets=True)
    origin = TAP_ORIGIN.format(port=tap.port)
    ticket = runner_ticket(lab)
    status, cookie, _ = unlock(tap.port, ticket, origin)
    assert status == 200
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert cookie.startswith(f"duplexlab_runner_{lab.port}_{tap.port}=")  # one per page origin
    again, no_cookie, body = unlock(tap.port, ticket, origin)  # a used ticket: replayed
    assert (again, no_cookie) == (403, "") and b"used up" in body


def test_only_a_browser_code_widgets_ticket_unlocks_a_runner(lab):
    ticket = lab.policy.issue_ticket("browser widget 1 (/chat)")  # lesson 05's socket widget's ticket
    status, cookie, _ = unlock(lab.port, ticket, lab.url)
    assert (status, cookie) == (403, "")
    assert ticket in lab.policy.tickets  # refused before it was used up: that widget's ticket still works
    runner = runner_ticket(lab)
    status, cookie, _ = unlock(lab.port, runner, lab.url, site="cross-site")  # a foreign page posting it
    assert (status, cookie) == (403, "") and runner in lab.policy.tickets
    status, cookie, _ = unlock(lab.port, "made-up", lab.url)
    assert (status, cookie) == (403, "")
    status, cookie, _ = unlock(lab.port, runner_ticket(lab), "null")  # a sandboxed frame
    assert (status, cookie) == (403, "")


def test_the_cookie_admits_only_its_own_origin_over_http_and_websocket(lab):
    tap = lab.tap(websockets=True)
    origin = TAP_ORIGIN.format(port=tap.port)
    _, set_cookie, _ = unlock(tap.port, runner_ticket(lab), origin)
    cookie = set_cookie.split(";")[0]
    host = f"127.0.0.1:{tap.port}"
    # from the runner's own origin: in, over HTTP and over a WebSocket, through the tap
    assert get(tap.port, "/api/health", host=host, origin=origin, cookie=cookie) == 200
    assert get(tap.port, "/api/health", host=host, cookie=cookie, site="same-origin") == 200
    with connect(f"ws://127.0.0.1:{tap.port}/echo", origin=Origin(origin), additional_headers={"Cookie": cookie}) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"
    record = lab.websockets.records[-1]
    assert record.owner == f"{RUNNER_OWNER} 1" and record.via == "direct"
    # another page on the same site (another localhost port): the browser sends the cookie; refused
    other = "http://127.0.0.1:3000"
    assert get(tap.port, "/api/health", host=host, origin=other, cookie=cookie) == 403
    assert get(tap.port, "/api/health", host=host, cookie=cookie, site="same-site") == 200  # a GET, rules 1-2 pass
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{tap.port}/echo", origin=Origin(other), additional_headers={"Cookie": cookie})
    assert refused.value.response.status_code == 403
    # the hub's name in Host: in only with the cookie, from the origin it was made for
    assert get(lab.port, "/api/health", host="hub.example", origin="https://hub.example") == 421
    _, hub_cookie, _ = unlock(lab.port, runner_ticket(lab, 2), "https://hub.example", host="hub.example")
    hub = hub_cookie.split(";")[0]
    assert get(lab.port, "/api/health", host="hub.example", origin="https://hub.example", cookie=hub) == 200
    assert get(lab.port, "/api/health", host="hub.example", origin="https://evil.example", cookie=hub) == 421


def test_a_changing_request_with_the_cookie_still_needs_json(lab):
    origin = lab.url.rstrip("/")
    _, set_cookie, _ = unlock(lab.port, runner_ticket(lab), origin)
    cookie = set_cookie.split(";")[0]
    answer = raw(
        lab.port,
        (
            f"POST /api/notifications HTTP/1.1\r\nHost: hub.example\r\nOrigin: {origin}\r\nCookie: {cookie}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        ).encode(),
    )
    assert answer.startswith(b"HTTP/1.1 415")


def test_the_policy_alone_expiry_and_parsing():
    policy = RequestPolicy(own_ports={8000})
    ticket = policy.issue_ticket(f"{RUNNER_OWNER} 7")
    opened = policy.open_runner(ticket, "HTTP://127.0.0.1:9000/")
    assert isinstance(opened, tuple)
    cookie, owner = opened
    assert owner == f"{RUNNER_OWNER} 7"
    assert policy.runner_admits(cookie, "http://127.0.0.1:9000", None) == owner
    assert policy.runner_admits(cookie, "http://127.0.0.1:9001", None) is None
    assert policy.runner_admits(cookie, None, "same-origin") == owner
    assert policy.runner_admits(cookie, None, None) == owner  # plain http to a hub: no Sec-Fetch-* at all
    assert policy.runner_admits(cookie, None, None, safe=False) is None  # a POST always says its Origin
    assert policy.runner_admits(cookie, None, "same-site") is None
    assert policy.runner_admits(cookie, None, "cross-site") is None
    assert policy.runner_admits("guessed", "http://127.0.0.1:9000", None) is None
    expiry, who, origin = policy.runners[cookie]
    policy.runners[cookie] = (0.0, who, origin)
    assert policy.runner_admits(cookie, "http://127.0.0.1:9000", None) is None
    policy.runners[cookie] = (expiry, who, origin)
    assert runner_tokens(["a=1; duplexlab_runner_5_80=xyz; b=2"], "duplexlab_runner_5") == ["xyz"]
    assert runner_tokens(["duplexlab_runner_5_1=a; duplexlab_runner_5_1=b", "x=1"], "duplexlab_runner_5") == ["a", "b"]
    assert runner_tokens(["duplexlab_runner_55_1=a"], "duplexlab_runner_5") == []
    assert runner_tokens([], "duplexlab_runner_5") == []
    assert policy.runner_admits(["planted", cookie], "http://127.0.0.1:9000", None) == owner  # none hides another
    assert (
        policy.revoke_runners(owner=owner) == 1 and policy.runner_admits(cookie, "http://127.0.0.1:9000", None) is None
    )


def test_a_tap_in_front_of_both_servers_sends_each_request_to_its_own(lab):
    tap = lab.tap(websockets=True)
    assert tap.ws_url == f"ws://127.0.0.1:{tap.port}"
    assert get(tap.port, "/api/health", host=f"127.0.0.1:{tap.port}") == 200
    with connect(f"{tap.ws_url}/echo") as ws:
        ws.send("through")
        assert ws.recv(timeout=5) == "through"
    text = tap.transcript()
    assert "GET /api/health" in text and "GET /echo" in text
    assert lab.tap().ws_url is None
    with pytest.raises(ValueError, match="give no target"):
        lab.tap(lab.url, websockets=True)


def test_two_pages_keep_their_own_cookies_and_a_closed_tap_takes_its_pages_with_it(lab):
    first, second = lab.tap(websockets=True), lab.tap(websockets=True)
    jar = {}
    for tap, n in ((first, 1), (second, 2)):
        _, set_cookie, _ = unlock(tap.port, runner_ticket(lab, n), TAP_ORIGIN.format(port=tap.port))
        name, _, value = set_cookie.split(";")[0].partition("=")
        jar[name] = value
    assert len(jar) == 2  # the second page did not overwrite the first one's cookie
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    planted = f"{lab.policy.runner_cookie}_1=planted; " + cookie  # a page on another port planted one first
    for tap in (first, second):
        origin = TAP_ORIGIN.format(port=tap.port)
        assert get(tap.port, "/api/health", host=f"127.0.0.1:{tap.port}", origin=origin, cookie=planted) == 200
        with connect(f"{tap.ws_url}/echo", origin=Origin(origin), additional_headers={"Cookie": planted}):
            pass
    first.close()
    assert [o for _, _, o in lab.policy.runners.values()] == [TAP_ORIGIN.format(port=second.port)]


def test_the_transcript_and_the_raw_bytes_hide_cookies(lab):
    tap = lab.tap(websockets=True)
    secret = "username-localhost-8888=2|1:0|very-secret-login"
    get(tap.port, "/api/health", host=f"127.0.0.1:{tap.port}", cookie=secret)
    _, set_cookie, _ = unlock(tap.port, runner_ticket(lab), TAP_ORIGIN.format(port=tap.port))
    value = set_cookie.split(";")[0].partition("=")[2]
    for shown in (tap.transcript(), tap.raw()):
        assert "very-secret-login" not in shown and value not in shown, shown
    assert f"Cookie: [{len(secret)} bytes of cookies, hidden]" in tap.transcript()


def test_a_program_cannot_pass_for_the_browser_code_or_a_student_by_a_label(lab):
    """X-Duplexlab-Owner labels a plain client's record (lesson 07's resuming client uses it), but a label
    that only a credential gives (the runner's "browser code …", a student's) is dropped: BrowserCode.records()
    counts only what a page with the runner's cookie opened."""
    for fake in (f"{RUNNER_OWNER} 1", "student:asha", "my client"):
        with lab.connect("/echo", additional_headers={"X-Duplexlab-Owner": fake}) as ws:
            ws.send("x")
            ws.recv(timeout=5)
    owners = [r.owner for r in lab.websockets.records if r.path == "/echo"]
    assert owners == [None, None, "my client"], owners
