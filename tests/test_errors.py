"""Every designed error says what happened and what to do, and keeps its data."""

import duplexlab as dl


def test_messages_name_the_fix_and_keep_their_data():
    """Each error's text names the problem and the fix; its fields hold the data."""
    port = dl.PortInUseError("127.0.0.1", 8000)
    assert port.port == 8000 and "port=0" in str(port) and isinstance(port, OSError)
    stopped = dl.LabNotRunningError()
    assert "dl.start()" in str(stopped) and isinstance(stopped, RuntimeError)
    http = dl.HTTPStatusError("GET", "/x", 404, "no such thing", "try /y")
    assert str(http) == "GET /x answered 404: no such thing (hint: try /y)" and http.status == 404
    assert issubclass(dl.CheckFailed, AssertionError)
    for exc in (port, stopped, http, dl.CheckFailed("x")):
        assert isinstance(exc, dl.DuplexLabError)


def test_lab_errors_show_as_one_line_in_a_notebook():
    """IPython renders a lab error as one line with its hint, not a traceback through threads."""
    from duplexlab.errors import HTTPStatusError

    error = HTTPStatusError("GET", "http://127.0.0.1:1/x", 404, "no route", "try /api/health")
    lines = error._render_traceback_()
    assert len(lines) == 1
    assert "HTTPStatusError" in lines[0] and "404" in lines[0] and "try /api/health" in lines[0]


WALK = """
import importlib, inspect, json, pkgutil
import duplexlab
from duplexlab.errors import DuplexLabError
classes, outside = [], []
for module in pkgutil.walk_packages(duplexlab.__path__, "duplexlab."):
    for name, obj in vars(importlib.import_module(module.name)).items():
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.name:
            classes.append(f"{module.name}.{name}")
            if not issubclass(obj, DuplexLabError):
                outside.append(f"{module.name}.{name}")
print(json.dumps({"classes": classes, "outside": outside}))
"""


def test_every_exception_class_in_the_package_is_a_duplexlab_error():
    """Each exception class defined anywhere in duplexlab sits under DuplexLabError (the tree in errors.py)."""
    import json
    import subprocess
    import sys

    found = json.loads(subprocess.run([sys.executable, "-c", WALK], capture_output=True, text=True, check=True).stdout)
    assert "duplexlab.apps.judge.JudgeBusy" in found["classes"] and len(found["classes"]) >= 10, found
    assert found["outside"] == []


def test_errors_keep_the_builtin_bases_code_catches_them_by():
    """Moving under DuplexLabError changed no ``except``: each keeps its built-in base, and the backplane's
    failures are still RuntimeErrors."""
    from duplexlab.apps.judge import JudgeBusy, SubmitterBusy
    from duplexlab.apps.otp import OTPError
    from duplexlab.cluster.cluster import ClusterError
    from duplexlab.cluster.entry import BadEntry
    from duplexlab.errors import BackplaneError

    assert issubclass(ClusterError, RuntimeError) and issubclass(BackplaneError, ClusterError)
    assert issubclass(BadEntry, ValueError) and issubclass(SubmitterBusy, JudgeBusy)
    busy, refused = SubmitterBusy("asha", 1, 1, retry_after=2), OTPError(429, "slow down", "wait", 3.0)
    assert (busy.retry_after, busy.submitter) == (2, "asha") and "asha already has 1" in str(busy)
    assert (refused.status, refused.hint, str(refused)) == (429, "wait", "slow down")
    assert isinstance(busy, dl.DuplexLabError) and isinstance(refused, dl.DuplexLabError)


def test_a_backplane_that_does_not_answer_is_a_backplane_error():
    """No Redis at the address given: a BackplaneError (a ClusterError, a RuntimeError) that says where."""
    import pytest

    from duplexlab.cluster.backplane import start_backplane
    from duplexlab.errors import BackplaneError

    with pytest.raises(BackplaneError, match="no Redis answers at 127.0.0.1:1"):
        start_backplane("redis://127.0.0.1:1")
