"""Every lesson's server on one loop: one HTTP server with each lesson's routes, and the WebSocket server.

The lab (:mod:`duplexlab.lab`) builds one :class:`LessonServers` each time it starts:
the HTTP app (the request policy, the classroom's door in classroom mode, the routes of
notifications, long polling, events, the judge and OTP) and the realtime WebSocket
server, both behind one :class:`~duplexlab.runtime.hygiene.ConnectionGate`.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from ..runtime import runner
from ..runtime.http import HTTPServer, make_app
from ..runtime.hygiene import ConnectionGate
from ..runtime.loop import LoopThread
from ..runtime.owner import GRACE
from ..runtime.policy import RequestPolicy
from . import events, judge, longpoll, otp, realtime, socket_io
from . import notifications as social
from .judge import Judge, Submission
from .otp import OTPService
from .teacher import Classroom

__all__ = ["LessonServers"]


class LessonServers:
    """The HTTP and WebSocket servers of one start of a lab, with the stores they serve.

    Args:
        host: the address both bind.
        port: the HTTP port (0: a free one); the WebSocket server always takes a free one.
        policy: the request policy every request and handshake passes.
        classroom: in classroom mode, the class whose door stands in front of the apps.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        policy: RequestPolicy,
        notifications: social.NotificationStore,
        judge: Judge,
        otp: OTPService,
        classroom: Classroom | None = None,
    ) -> None:
        self.host, self.port, self.policy = host, port, policy
        self.notifications, self.judge, self.otp = notifications, judge, otp
        self.classroom = classroom
        self.gate = ConnectionGate()
        self.http: HTTPServer | None = None
        self.ws: realtime.RealtimeServer | None = None
        self.socketio = socket_io.SocketIOHost()  # started by lab.socketio() (lesson 10)

    def app(self) -> web.Application:
        """The HTTP app: the request policy, the classroom's door (classroom mode), every lesson's routes."""
        app = make_app(self.policy)
        if self.classroom is not None:
            app.middlewares.append(self.classroom.door(self.gate, self.policy))
        social.add_routes(app, self.notifications)
        longpoll.add_routes(app, self.notifications)
        events.add_routes(app, self.notifications)
        judge.add_routes(app, self.judge)
        self.judge.on_done = self.push_verdict
        otp.add_routes(app, self.otp)
        runner.add_routes(app)  # dl.show.BrowserCode's page (rule 4 of the policy)
        socket_io.add_routes(app, self.socketio)  # answers 404 until lab.socketio() starts it
        return app

    def start(self, loop: LoopThread, undo: contextlib.ExitStack) -> None:
        """Start the HTTP server, then the WebSocket server, on ``loop``; register on ``undo`` how to close each."""
        roster = self.classroom.roster if self.classroom is not None else None
        server = HTTPServer(self.app(), host=self.host, port=self.port, gate=self.gate)
        ws = realtime.RealtimeServer(
            self.notifications, host=self.host, policy=self.policy, gate=self.gate, roster=roster
        )
        loop.run(server.start(), 10)
        undo.callback(lambda: loop.run(server.close(), 10))
        loop.run(ws.start(), 10)
        undo.callback(lambda: loop.run(ws.close(grace=0), 10))
        self.http, self.ws = server, ws
        self.policy.own_ports = {server.port, ws.port}
        self.policy.runner_cookie = f"duplexlab_runner_{server.port}"  # cookies do not tell ports apart
        if roster is not None:
            roster.ws_port = ws.port

    async def aclose(self) -> None:
        """Close the WebSocket server (each connection with :data:`~duplexlab.runtime.owner.GRACE`), then HTTP."""
        if self.ws is not None:
            await self.ws.close(grace=GRACE)
        await self.socketio.aclose()
        if self.http is not None:
            await self.http.close()

    def push_verdict(self, sub: Submission) -> None:
        """A verdict is ready for a submission that asked for it: push it as a notification (on the loop)."""
        if sub.notify and sub.verdict is not None:
            text = f"submission {sub.id}: {sub.verdict.value}"
            self.notifications.add(sub.notify, text, kind="judge-verdict")
