"""The WebSocket server's handshake without a network: each refusal and its reason, and a route table that checks
and serves the same paths."""

from http import HTTPStatus

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from duplexlab.apps.notifications import NotificationStore
from duplexlab.apps.realtime import Admission, Credential, RealtimeServer
from duplexlab.apps.realtime.admission import NEEDS_CREDENTIAL, admit
from duplexlab.apps.realtime.routes import Refusal
from duplexlab.runtime.classroom import Roster
from duplexlab.runtime.policy import TICKET_PREFIX

from .helpers import wait_for

HOST = "127.0.0.1:8765"

# One path each route admits: a route added to the table without one here fails test_every_route_has_an_example.
EXAMPLES = {
    "chat": "/chat?name=asha",
    "notifications": "/notifications/asha?after=3",
    "stream": "/stream/numbers?last=2",
    "private": "/private/asha",
    "echo": "/echo",
    "alive": "/alive",
}

# Today's answer to a path no route takes, word for word.
UNKNOWN = (
    "no WebSocket endpoint at /nowhere; use /chat?name=<you>, /notifications/<user>, "
    "/stream/<topic>?last=N, /private/<user> or /echo\n"
)


def request(path, *, host=HOST, **headers):
    """A handshake's request to ``path`` with ``Host: host``; header names with ``_`` for ``-``."""
    pairs = [("Host", host), *((name.replace("_", "-"), value) for name, value in headers.items())]
    return Request(path, Headers([(name, value) for name, value in pairs if value is not None]))


def admit_to(server, path, **headers):
    return admit(request(path, **headers), routes=server.routes, policy=server.policy, roster=server.roster)


def refused(result, status):
    assert isinstance(result, Refusal), result
    assert result.status == status, result
    assert result.text.endswith("\n")
    return result.text


@pytest.fixture
def server():
    return RealtimeServer(NotificationStore())


@pytest.fixture
def classroom():
    roster = Roster()
    roster.join(roster.code, "asha")
    roster.join(roster.code, "ravi")
    return RealtimeServer(NotificationStore(), roster=roster)


def credential_of(classroom, name):
    roster = classroom.roster
    return roster.teacher_credential if name == "teacher" else roster.named(name).credential


def ticket(server, owner):
    return TICKET_PREFIX + server.policy.issue_ticket(owner)


# -- who --------------------------------------------------------------------


def test_a_plain_client_is_admitted_with_no_credential(server):
    """A script on the lab's machine: no owner, no seat, no budget, and the route's channel."""
    admission = admit_to(server, "/echo")
    assert isinstance(admission, Admission)
    assert (admission.channel, admission.credential, admission.owner, admission.via) == (
        "echo",
        Credential.NONE,
        None,
        "direct",
    )
    assert admission.seat is None and admission.budget is None


def test_a_host_that_is_not_the_labs_is_refused_with_421(server):
    """DNS rebinding: a Host the lab does not answer for."""
    assert "does not answer for the host 'evil.example'" in refused(admit_to(server, "/echo", host="evil.example"), 421)


def test_a_page_from_another_origin_is_refused_with_403(server):
    """A browser page the lab does not allow."""
    text = refused(admit_to(server, "/chat?name=x", Origin="http://evil.example"), 403)
    assert text.startswith("a page from http://evil.example may not use the lab; ")
    assert "lab.allow_origin('http://evil.example')" in text


def test_a_ticket_stands_in_for_an_origin_and_says_who_holds_the_socket(server):
    """A widget's ticket: admitted from a page of any origin, its owner kept, once only."""
    offered = ticket(server, "widget-1")
    admission = admit_to(server, "/alive", Origin="http://notebook.example", Sec_WebSocket_Protocol=offered)
    assert isinstance(admission, Admission)
    assert (admission.credential, admission.owner, admission.via) == (Credential.TICKET, "widget-1", "direct")
    again = admit_to(server, "/alive", Sec_WebSocket_Protocol=offered)
    assert refused(again, 403) == "this ticket is used up or expired; run the widget's cell again for a new one\n"


def test_a_tickets_route_is_a_label(server):
    """The kernel's bridge and a proxy that keeps a loopback Host are told apart on the record."""
    bridged = admit_to(server, "/alive", Sec_WebSocket_Protocol=ticket(server, "w"), X_Duplexlab_Route="bridge")
    proxied = admit_to(server, "/alive", Sec_WebSocket_Protocol=f"{ticket(server, 'w')}, duplexlab.via.proxy")
    assert (bridged.via, proxied.via) == ("bridge", "proxy")


def test_a_ticket_through_another_host_is_a_proxy_and_garbage_is_refused(server):
    """A Host naming the notebook server: admitted as "proxy" with a ticket; a Host that is no host name: 421."""
    via_proxy = admit_to(server, "/alive", host="hub.example:8888", Sec_WebSocket_Protocol=ticket(server, "w"))
    assert via_proxy.via == "proxy"
    garbage = admit_to(server, "/alive", host="not a host!", Sec_WebSocket_Protocol=ticket(server, "w"))
    refused(garbage, 421)


def test_a_classroom_wants_a_credential(classroom):
    """No credential, an unknown one, a revoked one: 401, saying how to join."""
    assert refused(admit_to(classroom, "/echo"), 401) == NEEDS_CREDENTIAL
    assert refused(admit_to(classroom, "/echo", Authorization="Bearer nonsense"), 401) == NEEDS_CREDENTIAL
    revoked = credential_of(classroom, "ravi")
    classroom.roster.remove("ravi")
    assert refused(admit_to(classroom, "/echo", Authorization=f"Bearer {revoked}"), 401) == NEEDS_CREDENTIAL


def test_a_students_credential_binds_them_to_their_seat_and_budget(classroom):
    """A student is their seat, with their budget; the teacher is nobody's seat."""
    asha = admit_to(classroom, "/echo", Authorization=f"Bearer {credential_of(classroom, 'asha')}")
    assert (asha.credential, asha.owner, asha.seat) == (Credential.BEARER, "student:asha", "asha")
    assert asha.budget is not None and asha.budget.student is classroom.roster.named("asha")
    teacher = admit_to(classroom, "/notifications/ravi", Authorization=f"Bearer {credential_of(classroom, 'teacher')}")
    assert (teacher.owner, teacher.seat, teacher.budget) == ("student:teacher", None, None)


def test_a_credential_does_not_excuse_a_foreign_origin(classroom):
    """In a classroom the policy still applies after the credential."""
    credential = credential_of(classroom, "asha")
    refused(admit_to(classroom, "/echo", Authorization=f"Bearer {credential}", Origin="http://evil.example"), 403)


def test_a_removed_students_ticket_is_refused(classroom):
    """A ticket issued to a student before the teacher removed them: 403."""
    offered = ticket(classroom, "student:ravi")
    classroom.roster.remove("ravi")
    assert refused(admit_to(classroom, "/echo", Sec_WebSocket_Protocol=offered), 403) == (
        "this student was removed from the class\n"
    )


def test_a_students_ticket_binds_them_to_their_seat(classroom):
    """A student's widget, opened with a ticket: their seat and budget, as with their credential."""
    admission = admit_to(classroom, "/chat?name=whoever", Sec_WebSocket_Protocol=ticket(classroom, "student:asha"))
    assert (admission.credential, admission.seat, admission.channel) == (Credential.TICKET, "asha", "chat")
    assert admission.budget is not None


# -- where ------------------------------------------------------------------


def test_a_student_follows_only_their_own_notifications(classroom):
    """403 for another user's feed, public or private, naming the path to use; their own is admitted."""
    bearer = f"Bearer {credential_of(classroom, 'asha')}"
    for prefix in ("/notifications/", "/private/"):
        text = refused(admit_to(classroom, f"{prefix}ravi", Authorization=bearer), 403)
        assert text == (
            "you are asha: in a classroom you may follow only your own notifications, not ravi's; "
            f"connect to {prefix}asha\n"
        )
        assert isinstance(admit_to(classroom, f"{prefix}asha", Authorization=bearer), Admission)


def test_an_unknown_path_is_refused_with_todays_reason(server):
    """404 naming every path a client may use, word for word as before the split."""
    assert refused(admit_to(server, "/nowhere"), 404) == UNKNOWN
    assert refused(server.routes.open("/nowhere", seat=None), 404) == UNKNOWN
    assert refused(admit_to(server, "/stream"), 404).startswith("no WebSocket endpoint at /stream;")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/chat?name=", "; connect to /chat?name=asha\n"),
        ("/chat?name=a%20b", "; connect to /chat?name=asha\n"),
        ("/notifications/", ""),
        (
            "/notifications/asha?after=soon",
            "connect to /notifications/<user>?after=<the last notification id you have>\n",
        ),
        ("/private/a%20b", ""),
        ("/stream/?last=1", "connect to /stream/<topic>?last=<the last number you saw>\n"),
        ("/stream/numbers?last=x", "connect to /stream/<topic>?last=<the last number you saw>\n"),
        ("/stream/no%20spaces", "topic names are 1-64 characters"),
    ],
)
def test_bad_arguments_are_refused_with_400(server, path, reason):
    """A path a route takes, with arguments it cannot: 400 and what to send instead."""
    assert reason in refused(admit_to(server, path), 400)


def test_a_classroom_student_chats_under_their_seat_whatever_name_says(classroom):
    """``name=`` is not checked for a student: the seat decides."""
    admission = admit_to(classroom, "/chat?name=", Authorization=f"Bearer {credential_of(classroom, 'asha')}")
    assert admission.channel == "chat" and admission.serve.keywords == {"name": "asha", "asked": "", "seat": True}


def test_the_topic_limit_refuses_a_new_topic_at_the_handshake(server, monkeypatch):
    """Past MAX_TOPICS, all followed: 400 saying so, before any socket opens."""
    from duplexlab.apps.realtime import stream

    monkeypatch.setattr(stream, "MAX_TOPICS", 2)
    for name in ("a", "b"):
        server.topic(name).queues.add(object())
    assert "already keeps 2 topics, all in use" in refused(admit_to(server, "/stream/c"), 400)


# -- check and serve agree ------------------------------------------------------


def test_every_route_has_an_example():
    """The examples below cover the route table (a new route needs one)."""
    server = RealtimeServer(NotificationStore())
    assert {route.channel for route in server.routes.routes} == set(EXAMPLES)


@pytest.mark.parametrize("channel", sorted(EXAMPLES))
def test_what_the_handshake_admits_is_served_by_that_routes_channel(server, channel):
    """The admission names the route's channel, and its ``serve`` is that channel's, bound to the path's arguments."""
    admission = admit_to(server, EXAMPLES[channel])
    assert isinstance(admission, Admission), admission
    assert admission.channel == channel
    route = next(r for r in server.routes.routes if r.channel == channel)
    serving = getattr(admission.serve, "func", admission.serve)  # a bound method, or a partial of one
    channel_object = getattr(serving, "__self__", None)
    by_name = {
        "chat": server.chat,
        "notifications": server.feed,
        "stream": server.stream,
        "private": server.private,
        "echo": server.echo,
        "alive": server.alive,
    }
    assert channel_object is getattr(route.open, "__self__", None) is by_name[channel]


def test_the_arguments_of_a_path_reach_its_channel(server):
    """What the handshake read from the path is what the channel is served with."""
    assert admit_to(server, "/notifications/asha?after=3").serve.keywords == {"user": "asha", "after": 3}
    assert admit_to(server, "/notifications/asha").serve.keywords == {"user": "asha", "after": None}
    assert admit_to(server, "/stream/numbers?last=2").serve.keywords == {"name": "numbers", "last": 2}
    assert admit_to(server, "/stream/numbers").serve.keywords == {"name": "numbers", "last": -1}
    assert admit_to(server, "/private/asha").serve.keywords == {"user": "asha"}
    assert admit_to(server, "/chat?name=asha").serve.keywords == {"name": "asha", "asked": "asha"}


def test_a_path_the_table_serves_opens_on_a_live_lab(lab):
    """Each example opens a socket on a running lab, served until the client closes it (1000, not 1011);
    an unknown path gets today's 404."""
    from websockets.exceptions import InvalidStatus

    def served(path):
        return [r for r in lab.websockets.records if r.path == path]

    for channel, path in EXAMPLES.items():
        ws = lab.connect(path)
        wait_for(lambda path=path: served(path), why=lambda channel=channel: f"{channel} never served")
        ws.close()
        wait_for(lambda path=path: not served(path)[-1].open)
        assert served(path)[-1].close_code == 1000, (channel, served(path)[-1])
    with pytest.raises(InvalidStatus) as info:
        lab.connect("/nowhere")
    assert info.value.response.status_code == HTTPStatus.NOT_FOUND
    assert info.value.response.body.decode() == UNKNOWN
    assert lab.websockets.refused[-1][2:] == ("/nowhere", 404)
