"""The classroom's door knows no app; the apps' rules at the door, each on its own, without a server."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from duplexlab.apps import classroom as rules
from duplexlab.runtime import classroom as door
from duplexlab.runtime.classroom import Roster, Student


def _student(name: str = "asha", *, teacher: bool = False) -> Student:
    return Student(name, "credential", 0.0, teacher=teacher)


def _request(method: str, path: str, **match_info: str) -> web.Request:
    request = make_mocked_request(method, path)
    request._match_info = match_info  # type: ignore[assignment]  # what the router would have matched
    return request


def _refusal(rule, request, student) -> web.HTTPException:
    with pytest.raises(web.HTTPException) as caught:
        asyncio.run(rule(request, student))
    return caught.value


def _code_strings(module) -> str:
    """Every string and name in a module's code, its docstrings left out."""
    tree = ast.parse(inspect.getsource(module))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append(node.value)
        elif isinstance(node, ast.Name):
            found.append(node.id)
    return "\n".join(found)


def test_the_door_names_no_apps_route():
    """runtime/classroom.py checks credentials for any app: no route or limit of an app is in its code."""
    code = _code_strings(door)
    assert "/api/classroom/join" in code  # the door's own
    for route in ("/api/users", "/api/notifications", "/api/judge", "JUDGE_", "judge/s"):
        assert route not in code, route


def test_each_named_limit_has_its_own_bucket_and_is_counted():
    """A student over the judge's limit may still make requests; each refusal is counted under its name."""
    student = _student()
    assert all(student.allow(0.0, "judge/s", 0.5, 2) for _ in range(2))
    assert not student.allow(0.0, "judge/s", 0.5, 2)
    assert student.allow(0.0)  # the door's own "requests/s" is untouched
    assert student.allow(2.0, "judge/s", 0.5, 2)  # one more after two seconds
    assert student.limited == 1 and student.limits_hit == {"judge/s": 1}


def test_a_student_may_not_use_another_users_routes_but_the_teacher_may():
    """/api/users/{user}/… names the student or is refused with 403 and whose routes they may use."""
    rule = rules.own_routes_only(None)
    refusal = _refusal(rule, _request("GET", "/api/users/ravi/notifications", user="ravi"), _student())
    assert refusal.status == 403 and "/api/users/asha/" in json.loads(refusal.text or "")["hint"]
    created = _refusal(rule, _request("POST", "/api/users/ravi/notifications", user="ravi"), _student())
    assert created.status == 403 and "only the teacher" in json.loads(created.text or "")["error"]
    assert asyncio.run(rule(_request("GET", "/api/users/asha/notifications", user="asha"), _student())) is None
    teacher = _student("teacher", teacher=True)
    assert asyncio.run(rule(_request("GET", "/api/users/ravi/notifications", user="ravi"), teacher)) is None


def test_someone_elses_notification_answers_as_one_that_does_not_exist():
    """/api/notifications/{id} of another user is a 404, as an unknown id; a student's own passes."""
    owners = {1: "asha", 2: "ravi"}
    rule = rules.own_routes_only(owners.get)
    assert asyncio.run(rule(_request("GET", "/api/notifications/1", id="1"), _student())) is None
    for note in ("2", "3"):
        assert _refusal(rule, _request("GET", f"/api/notifications/{note}", id=note), _student()).status == 404
    assert asyncio.run(rule(_request("GET", "/api/notifications/x", id="x"), _student())) is None  # the route's 404


def test_the_judge_is_off_without_isolation_and_limited_with_it():
    """Without isolation every judge request is a 503 that says why; with it, submissions beyond the burst are 429."""
    off = _refusal(rules.judge_gate(isolated=False), _request("GET", "/api/judge/submissions/1"), _student())
    assert off.status == 503 and json.loads(off.text or "")["error"] == rules.JUDGE_OFF
    gate, student = rules.judge_gate(isolated=True), _student()
    for _ in range(int(rules.JUDGE_BURST)):
        assert asyncio.run(gate(_request("POST", "/api/judge/submissions"), student)) is None
    limited = _refusal(gate, _request("POST", "/api/judge/submissions"), student)
    assert limited.status == 429 and limited.headers["Retry-After"] == "2" and student.limits_hit["judge/s"] == 1
    assert asyncio.run(gate(_request("GET", "/api/judge/submissions/1"), student)) is None  # reading is not limited
    assert asyncio.run(gate(_request("POST", "/api/users/asha/notifications"), student)) is None


def test_the_dashboards_endpoints_answer_and_others_pass():
    """GET /api/classroom/settings answers the teacher's settings; any other path passes to its route."""
    roster = Roster()
    roster.settings["poll_interval"] = 2.0
    rule = rules.dashboard(roster)
    answer = asyncio.run(rule(_request("GET", "/api/classroom/settings"), _student()))
    assert isinstance(answer, web.Response) and json.loads(answer.text or "") == {"poll_interval": 2.0}
    assert asyncio.run(rule(_request("GET", "/api/users/asha/notifications"), _student())) is None
