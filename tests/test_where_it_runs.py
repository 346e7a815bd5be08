"""Lesson 5's browser widget where the browser is not on the kernel's machine (a JupyterHub, Binder, VS Code).

A Jupyter Server with the base URL a hub gives (``/user/alice/``) runs in a network namespace of its
own, and so does its kernel, whose lab listens on the namespace's 127.0.0.1. Chromium runs outside:
it reaches the notebook server's port and nothing else, as a student's laptop reaches a hub. With
``jupyter-server-proxy`` in the server the widget goes through it; without, over the widget's comm.
The namespace is deleted afterwards, even when a test fails (and ``.ci/run`` removes ``dl-*``
namespaces an interrupted run left).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from .browser import (
    NEEDS_CHROMIUM,
    PANEL,
    chromium_context,
    code_cell,
    js_cell,
    jupyter_lab,
    open_in_lab,
    run_all,
    run_one,
    screenshot_on_failure,
)
from .helpers import seconds, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.netns,
    NEEDS_CHROMIUM,
    pytest.mark.skipif(
        shutil.which("ip") is None or os.geteuid() != 0, reason="needs root and iproute2 (bash .ci/run installs it)"
    ),
]

LESSON = "05-chat-and-notifications.ipynb"
HUB_ENV = {"JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"}  # what JupyterHub sets for a user's server and kernels

# Cells added to a copy of lesson 5, for the test to run after Run All (they run under Run All too).
EXTRA = {
    "lab-port": "print('lab port', lab.ws_url.rsplit(':', 1)[1])",
    "heard": "print('heard:', [text for who, text in lab.websockets.room.recent if who == 'browser'])",
    "say": "said = globals().get('said', 0) + 1\n"
    "lab.connect(f'/chat?name=kabir{said}').send(json.dumps({'type': 'message', 'text': f'hello back #{said}'}))\n"
    "print('said', said)",
    "records": "print('records:', [(r.via, r.close_code, r.close_reason) for r in browser.records()])",
    "doctor": "dl.doctor()",
}


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10).stdout


def free_subnet() -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A /30 from the documentation ranges that no network of this machine overlaps (its own may be one)."""
    taken = [ipaddress.ip_interface(word).network for word in ip("-4", "-o", "addr").split() if "/" in word]
    routes = [line.split()[0] for line in ip("-4", "route").splitlines()]
    taken += [ipaddress.ip_network(route) for route in routes if "/" in route]
    for block in ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"):
        for subnet in ipaddress.ip_network(block).subnets(new_prefix=30):
            if not any(subnet.overlaps(t) for t in taken):
                return subnet
    raise RuntimeError("no free documentation subnet for the test's namespace")


@pytest.fixture
def hub_namespace():
    """A network namespace for the notebook server, joined to this one by a veth pair; yields (name, address)."""
    tag = secrets.token_hex(3)
    ns, outside, inside = f"dl-hub-{tag}", f"dlho{tag}", f"dlhi{tag}"
    mine, theirs = list(free_subnet().hosts())
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", ns)
        ip("addr", "add", f"{mine}/30", "dev", outside)
        ip("link", "set", outside, "up")
        ip("-n", ns, "addr", "add", f"{theirs}/30", "dev", inside)
        ip("-n", ns, "link", "set", inside, "up")
        yield ns, str(theirs)
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def lesson_copy(folder: Path) -> str:
    nb = nbformat.read(Path(__file__).parent.parent / "notebooks" / LESSON, as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in EXTRA.values()]
    nbformat.write(nb, folder / LESSON)
    return LESSON


def until(page, source: str, wanted: str, timeout: float = 15) -> str:
    """Run the cell containing ``source`` until its output contains ``wanted``."""
    outputs: list[str] = []

    def shows() -> bool:
        outputs.append(run_one(page, source))
        return wanted in outputs[-1]

    wait_for(shows, timeout, why=lambda: outputs[-1], interval=0.5)
    return outputs[-1]


def chat_and_unmount(page, widget) -> None:
    """Type into the widget and see the lab get it; see the lab's push arrive; clear the output."""
    widget.scroll_into_view_if_needed()
    widget.locator(".duplexlab-socket-input").fill("typed in the browser")
    widget.locator(".duplexlab-socket-input").press("Enter")
    until(page, EXTRA["heard"], "typed in the browser")
    said = int(run_one(page, EXTRA["say"]).split()[-1])  # under Run All it said #1 already
    widget.locator(".duplexlab-socket-log li", has_text=f"hello back #{said}").wait_for(timeout=seconds(10) * 1000)
    widget.locator(".duplexlab-socket").click(button="right")
    page.get_by_role("menuitem", name="Clear Cell Output").click()


def lab_port(page) -> int:
    return int(run_one(page, EXTRA["lab-port"]).split()[-1])


@contextmanager
def lesson_on_the_hub(tmp_path: Path, hub_namespace: tuple[str, str], shot: str, **server):
    """Lesson 5 (with the probe cells) on the namespaced hub at /user/alice/, opened in Chromium outside, Run All."""
    ns, hub = hub_namespace
    name = lesson_copy(tmp_path)
    with (
        jupyter_lab(tmp_path, ip=hub, base_url="/user/alice/", netns=ns, env=HUB_ENV, **server) as (base, token),
        chromium_context(tmp_path) as context,
    ):
        page = context.new_page()
        with screenshot_on_failure(page, shot):
            open_in_lab(page, base, token, name)
            run_all(page)
            yield page


@pytest.mark.skipif(importlib.util.find_spec("jupyter_server_proxy") is None, reason="jupyter-server-proxy missing")
def test_on_a_hub_the_widget_goes_through_the_notebook_servers_proxy(tmp_path, hub_namespace):
    """Base URL /user/alice/, jupyter-server-proxy, Chromium outside the namespace: the lab's port is
    unreachable from the browser, yet under Run All the widget connects through the proxy, chats both
    ways, and closes with 1000 "unmount" when its output is cleared; the lab records it as via="proxy"."""
    _, hub = hub_namespace
    with lesson_on_the_hub(tmp_path, hub_namespace, "hub-proxy") as page:
        waited = code_cell(page, "browser.wait_open()").locator(".jp-OutputArea").text_content()
        assert "the browser's socket is open" in waited and "through the notebook server's proxy" in waited, waited
        widget = code_cell(page, "dl.widgets.BrowserSocket(lab")
        status = widget.locator(".duplexlab-socket-status")
        assert "through the notebook server's proxy" in status.text_content()
        assert "/user/alice/proxy/" in status.text_content()
        widget.locator(".duplexlab-socket-log li", has_text="Hello, browser!").wait_for(timeout=5000)

        port = lab_port(page)  # the lab listens in the namespace only: not from out here
        with pytest.raises(OSError):
            socket.create_connection((hub, port), timeout=2).close()
        reached = page.evaluate(
            """(url) => new Promise((done) => { const ws = new WebSocket(url);
                 ws.onopen = () => { ws.close(); done("open"); }; ws.onerror = () => done("unreachable"); })""",
            f"ws://{hub}:{port}/echo",
        )
        assert reached == "unreachable"

        doctor = page.locator(f"{PANEL} .duplexlab-doctor")
        doctor.locator("li", has_text="✓ over the widget's comm").wait_for(timeout=seconds(15) * 1000)
        assert "· straight to the lab: not tried" in doctor.text_content()
        assert "✓ through the notebook server's proxy: open" in doctor.text_content()
        assert "will go through the notebook server's proxy" in doctor.text_content()
        printed = " ".join(code_cell(page, "dl.doctor()").locator(".jp-OutputArea").text_content().split())
        assert "where: JupyterHub (JUPYTERHUB_SERVICE_PREFIX=/user/alice/)" in printed, printed
        print("hub, proxy:", waited.strip(), "|", doctor.text_content())

        # the page's own JavaScript (dl.show.BrowserCode) runs through the proxy too, through a tap
        effect = js_cell(page, 'const user = "ishaan";')
        for text in ("fetched", "open, readyState 1", "pushed: Meera accepted"):
            effect.locator(".duplexlab-code-log li", has_text=text).first.wait_for(
                state="attached", timeout=seconds(15) * 1000
            )
        opened = code_cell(page, 'effect.wait_open("/notifications/ishaan")').locator(".jp-OutputArea").text_content()
        assert "through the notebook server's proxy" in opened, opened
        print("hub, proxy, the page's JavaScript:", opened.strip())

        chat_and_unmount(page, widget)
        until(page, "browser.report()", "closed with 1000 'unmount'")
        assert "through the notebook server's proxy" in run_one(page, "browser.report()")
        assert "('proxy', 1000, 'unmount')" in run_one(page, EXTRA["records"])


def test_with_neither_way_open_the_widget_chats_over_the_comm_and_says_so(tmp_path, hub_namespace):
    """The same hub without jupyter-server-proxy: the widget says it can't reach the lab and joins over
    the widget's comm when the notebook is idle; the cell after it says so in one message (two lines
    of 100 columns at most); then it chats both ways through the kernel and closes with 1000
    "unmount"; the lab records it as via="bridge"."""
    no_proxy = {"ServerApp": {"jpserver_extensions": {"jupyter_server_proxy": False}}}
    with lesson_on_the_hub(tmp_path, hub_namespace, "hub-bridge", server_config=no_proxy) as page:
        waited = code_cell(page, "browser.wait_open()").locator(".jp-OutputArea").text_content()
        said = " ".join(waited.split())  # one message, wrapped between words at 100 columns
        assert "over its comm, it joins when the notebook is idle" in said, waited
        assert "run this cell again after Run All" in said, waited
        assert len(waited.strip().splitlines()) <= 2 and all(len(x) <= 100 for x in waited.splitlines()), waited
        widget = code_cell(page, "dl.widgets.BrowserSocket(lab")
        status = widget.locator(".duplexlab-socket-status")
        status.filter(has_text="open, over the widget's comm").wait_for(timeout=seconds(15) * 1000)
        assert "(the kernel holds the WebSocket)" in status.text_content()
        joined = until(page, "browser.wait_open()", "the browser's socket is open")
        assert "over the widget's comm" in joined
        print("hub, no proxy, after Run All:", joined.strip())
        doctor = page.locator(f"{PANEL} .duplexlab-doctor")
        doctor.locator("li", has_text="✓ over the widget's comm").wait_for(timeout=seconds(15) * 1000)
        assert "· through the notebook server's proxy: unreachable" in doctor.text_content()
        assert "jupyter-server-proxy installed where the notebook server runs" in doctor.text_content()
        assert "will go over the widget's comm" in doctor.text_content()
        print("hub, no proxy:", doctor.text_content())

        # the page's own JavaScript cannot run without a way to the lab: one line says so, at once
        effect = js_cell(page, 'const user = "ishaan";')
        said = effect.locator(".duplexlab-code-status", has_text="cannot reach the lab")
        said.wait_for(timeout=seconds(15) * 1000)
        assert "so the code cannot run here" in said.text_content() and "\n" not in said.text_content()
        opened = code_cell(page, 'effect.wait_open("/notifications/ishaan")').locator(".jp-OutputArea").text_content()
        assert "no page has opened it" in opened, opened

        chat_and_unmount(page, widget)
        until(page, "browser.report()", "closed with 1000 'unmount'")
        assert "('bridge', 1000, 'unmount')" in run_one(page, EXTRA["records"])
