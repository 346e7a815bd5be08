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
