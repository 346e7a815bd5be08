"""The browser code runner's page and its unlock: rule 4 of :mod:`duplexlab.runtime.policy`.

``dl.show.BrowserCode`` loads ``GET /_duplexlab/runner`` in an invisible frame, from the
lab, from a tap in front of it or through the notebook server's proxy. The page
(``runner.js``) sends the one-use ticket from the widget's state to
``POST /_duplexlab/runner/unlock``; the lab answers with the runner cookie, tied to
the page's origin, and the page then runs the snippets its parent frame sends.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .http import POLICY_KEY, json_error, read_json
from .policy import RUNNER_PATH, RUNNER_UNLOCK, Decision, runner_cookie_name

__all__ = ["add_routes", "page"]

_PAGE = (
    "<!doctype html>\n<html lang=en><meta charset=utf-8><title>duplexlab: browser code runner</title>\n"
    "<script>\n" + (Path(__file__).with_name("runner.js")).read_text(encoding="utf-8") + "</script>\n</html>\n"
)
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


async def page(request: web.Request) -> web.Response:
    """The runner's page: static, with no secret in it."""
    return web.Response(text=_PAGE, content_type="text/html", headers=_HEADERS)


async def unlock(request: web.Request) -> web.Response:
    """Trade a browser code widget's ticket for the runner cookie, tied to the page's origin."""
    policy = request.app[POLICY_KEY]
    data = await read_json(request, example='{"ticket": "..."}')
    ticket = data.get("ticket")
    origin = request.headers.get("Origin")
    if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":  # only the runner's own page
        raise json_error(403, "the runner must be unlocked from its own page", "run the widget's cell again")
    opened = policy.open_runner(ticket if isinstance(ticket, str) else None, origin)
    if isinstance(opened, Decision):
        policy.note(request.method, request.path, opened.status, origin)
        raise json_error(opened.status, opened.error, opened.hint)
    cookie, owner = opened
    answer = web.json_response({"ok": True, "owner": owner}, headers=_HEADERS)
    name = runner_cookie_name(policy.runner_cookie, origin or "")  # one per page origin: pages don't overwrite
    answer.set_cookie(name, cookie, httponly=True, samesite="Strict", path="/")
    return answer


def add_routes(app: web.Application) -> None:
    """The runner's page and unlock (the app must hold the lab's policy)."""
    app.router.add_get(RUNNER_PATH, page)
    app.router.add_post(RUNNER_UNLOCK, unlock)
