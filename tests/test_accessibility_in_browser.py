"""What a student who uses a screen reader or only a keyboard gets from the course, in Chromium.

One JupyterLab server (on a copy of ``notebooks/``) serves the module, and each notebook is
Run All once: the axe-core test and the keyboard tests of that notebook share the page.

- axe-core 4.x (WCAG 2.0/2.1 A and AA rules) checks the cells' output areas only (JupyterLab's
  own interface is not ours). JupyterLab 4 lays out only the cells on screen, so the test scrolls
  the notebook panel as a person does and checks each output area while it is in view. It prints
  the counts per notebook and fails on any serious or critical violation. axe-core comes from the
  npm registry (``bash .ci/run`` installs it in ``.cache/axe``; ``$DUPLEXLAB_AXE`` points elsewhere).
- The keyboard tests Tab through one widget of each kind and operate it without the mouse, with a
  screenshot of each focus state in ``$DUPLEXLAB_SCREENSHOTS`` (default the temp folder).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser import NEEDS_CHROMIUM, PANEL, PROJECTOR, chromium_context, course_in_lab, open_in_lab, run_all
from .helpers import seconds

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

ROOT = Path(__file__).parent.parent
COURSE = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in COURSE.glob("*.ipynb")) + ["teachers/classroom.ipynb"]
AXE = Path(os.environ.get("DUPLEXLAB_AXE") or ROOT / ".cache/axe/node_modules/axe-core/axe.min.js")
NEEDS_AXE = pytest.mark.skipif(
    not AXE.is_file(), reason=f"axe-core is not installed at {AXE} (bash .ci/run installs it from npm)"
)
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SHOTS = Path(os.environ.get("DUPLEXLAB_SCREENSHOTS", "/tmp"))
OUTER = f"{PANEL} .jp-WindowedPanel-outer"  # the notebook panel that scrolls

# The widget kinds the keyboard tests use, and the notebook each is in.
KINDS = {
    "polling": "02-polling.ipynb",
    "chat": "05-chat-and-notifications.ipynb",
    "arena": "06-side-by-side.ipynb",
    "sequence": "07-keeping-websockets-alive.ipynb",
    "tap": "07-keeping-websockets-alive.ipynb",
    "dashboard": "teachers/classroom.ipynb",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A JupyterLab server on a copy of the course; yields (folder, base URL, token)."""
    with course_in_lab(tmp_path_factory.mktemp("a11y"), NOTEBOOKS) as course:
        yield course


class RunAll:
    """Notebooks after Run All, each in a page of its own, kept open until its last test is done."""

    def __init__(self, context, base: str, token: str) -> None:
        self.context, self.base, self.token = context, base, token
        self.pages: dict = {}
        self.uses = Counter(NOTEBOOKS) + Counter(KINDS.values())  # the axe test, then the keyboard tests

    def page(self, name: str):
        if name not in self.pages:
            page = self.context.new_page()
            try:
                open_in_lab(page, self.base, self.token, name)
                took = run_all(page)
            except BaseException:
                page.close()  # the next test of this notebook tries again
                raise
            print(f"{name}: Run All in {took:.1f} s")
            self.pages[name] = page
        return self.pages[name]

    def done(self, name: str) -> None:
        """One test of ``name`` is done: close its page once no other test of this module needs it."""
        self.uses[name] -= 1
        if self.uses[name] <= 0 and name in self.pages:
            self.pages.pop(name).close()


@pytest.fixture(scope="module")
def ran(course):
    folder, base, token = course
    with chromium_context(folder, viewport=PROJECTOR) as context:
        yield RunAll(context, base, token)


def scroll_to(page, top: float) -> bool:
    """Scroll the notebook panel (as a reader does) to ``top``; False when it cannot move any further."""
    return page.evaluate(
        """([sel, top]) => { const o = document.querySelector(sel); const before = o.scrollTop;
                             o.scrollTop = top; return o.scrollTop !== before; }""",
        [OUTER, top],
    )


# Checks the output areas in view that no earlier call checked; returns the violations' nodes.
AXE_IN_VIEW = """async ([panel, outer, tags]) => {
    const box = document.querySelector(outer).getBoundingClientRect();
    const checked = window.__duplexlabChecked = window.__duplexlabChecked || new WeakSet();
    const found = [];
    for (const [k, area] of document.querySelectorAll(panel + ' .jp-OutputArea').entries()) {
        const r = area.getBoundingClientRect();
        if (checked.has(area) || r.height === 0 || r.bottom <= box.top || r.top >= box.bottom) continue;
        checked.add(area);
        const result = await axe.run(area, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        for (const v of result.violations) for (const n of v.nodes)
            found.push({rule: v.id, impact: n.impact || v.impact, target: k + ' ' + JSON.stringify(n.target),
                        html: n.html.slice(0, 160), why: (n.failureSummary || '').slice(0, 240)});
    }
    return found;
}"""

UNCHECKED = """([panel]) => [...document.querySelectorAll(panel + ' .jp-OutputArea')]
    .filter(a => a.textContent.trim() || a.querySelector('img, svg, canvas, input, select, button'))
    .filter(a => !(window.__duplexlabChecked && window.__duplexlabChecked.has(a))).length"""


def axe_in_view(page) -> list[dict]:
    """Scroll the notebook from top to bottom in 300 px steps, checking each output area while it is in view."""
    page.add_script_tag(path=str(AXE))
    scroll_to(page, 0)
    found: dict[tuple[str, str], dict] = {}
    moved = True
    step = 0
    while moved:
        time.sleep(0.25)  # let JupyterLab lay out what came into view
        for node in page.evaluate(AXE_IN_VIEW, [PANEL, OUTER, WCAG_A_AA]):
            found.setdefault((node["rule"], node["target"]), node)
        step += 1
        moved = scroll_to(page, step * 300)
    assert page.evaluate(UNCHECKED, [PANEL]) == 0, "some output areas were never in view"
    return list(found.values())


def counts(nodes: list[dict]) -> str:
    by_rule = Counter(n["rule"] for n in nodes)
    return ", ".join(f"{rule} {k}" for rule, k in sorted(by_rule.items())) or "none"


@NEEDS_AXE
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_outputs_have_no_serious_axe_violations(ran, name, capsys):
    """After Run All, axe-core (WCAG 2.0/2.1 A and AA) finds no serious or critical violation in any
    output area, each checked while the notebook is scrolled to it."""
    page = ran.page(name)
    try:
        nodes = axe_in_view(page)
        version = page.evaluate("() => axe.version")
        serious = [n for n in nodes if n["impact"] in ("serious", "critical")]
        others = [n for n in nodes if n not in serious]
        with capsys.disabled():  # the counts show in every run, passing or not
            print(
                f"\naxe-core {version}, {name}: {len(serious)} serious or critical ({counts(serious)}); "
                f"{len(others)} minor or moderate ({counts(others)})"
            )
        if serious:
            page.screenshot(path=str(SHOTS / f"duplexlab-axe-{name.replace('/', '-')}.png"))
        assert not serious, "\n".join(f"{n['impact']} {n['rule']}: {n['html']}\n    {n['why']}" for n in serious)
    finally:
        ran.done(name)


# -- the keyboard ------------------------------------------------------------------------------

# Where focus is, as the page and the browser's accessibility tree see it.
FOCUSED = """(widget) => {
    const a = document.activeElement;
    const cs = getComputedStyle(a);
    return {inside: widget.contains(a) && a !== widget, tag: a.tagName.toLowerCase(),
            text: (a.textContent || '').trim().slice(0, 40), cls: String(a.className).slice(0, 60),
            ring: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2};
}"""


def focused_name(page) -> tuple[str, str]:
    """The focused element's role and accessible name, as Chromium computes them for a screen reader."""
    cdp = page.context.new_cdp_session(page)
    try:
        found = cdp.send("Runtime.evaluate", {"expression": "document.activeElement"})["result"]
        node = cdp.send("Accessibility.getPartialAXTree", {"objectId": found["objectId"], "fetchRelatives": False})
        ax = node["nodes"][0]
        return ax.get("role", {}).get("value", ""), ax.get("name", {}).get("value", "").strip()
    finally:
        cdp.detach()


def scroll_into_view(page, widget) -> None:
    """Scroll the notebook panel (as a reader does) until the widget's top is near the top of the screen."""
    for _ in range(200):
        top = widget.evaluate(
            """(el, outer) => el.getBoundingClientRect().top
                              - document.querySelector(outer).getBoundingClientRect().top""",
            OUTER,
        )
        if 0 <= top <= 120:
            break
        page.evaluate(
            "([sel, by]) => { document.querySelector(sel).scrollTop += by; }",
            [OUTER, max(-300, min(300, top - 60))],
        )
        time.sleep(0.25)
    time.sleep(0.5)


def shoot(page, widget, path: Path) -> None:
    """A screenshot of the widget (the part on screen), as the class sees it."""
    box = widget.bounding_box()
    view = page.viewport_size or PROJECTOR
    top, bottom = max(0, box["y"] - 8), min(view["height"], box["y"] + box["height"] + 8)
    page.screenshot(path=str(path), clip={"x": 0, "y": top, "width": view["width"], "height": max(1, bottom - top)})


def tab_through(page, widget, kind: str) -> list[dict]:
    """Put focus on the widget's box (how a keyboard gets into a cell's output is JupyterLab's), then press
    Tab until focus leaves the widget. Each stop: what is focused, its role and name, whether it shows a
    focus ring; a screenshot of each is kept."""
    scroll_into_view(page, widget)
    widget.evaluate("el => { el.tabIndex = -1; el.focus({preventScroll: true}); }")
    stops = []
    for k in range(60):
        page.keyboard.press("Tab")
        time.sleep(0.1)
        where = page.evaluate(FOCUSED, widget.element_handle())
        if not where["inside"]:
            break
        where["role"], where["name"] = focused_name(page)
        stops.append(where)
        shoot(page, widget, SHOTS / f"duplexlab-keyboard-{kind}-{k:02d}.png")
    print(f"{kind}: Tab stops " + " | ".join(f"{s['role']} {s['name']!r}" for s in stops))
    return stops


def assert_named_and_ringed(stops: list[dict], *names: str) -> None:
    """Every stop has a name and a focus ring; the names given are among the stops, in this order."""
    assert stops, "Tab never reached the widget's controls"
    for s in stops:
        assert s["name"], f"a {s['role']} ({s['tag']}.{s['cls']}) has no accessible name"
        assert s["ring"], f"{s['role']} {s['name']!r} shows no focus ring"
    found = [s["name"] for s in stops]
    at = 0
    for name in names:
        hits = [i for i, n in enumerate(found) if i >= at and name in n]
        assert hits, f"no Tab stop named {name!r} (after stop {at}) in {found}"
        at = hits[0] + 1


def focus_stop(page, widget, name: str, role: str = "") -> None:
    """Press Tab from the widget's box until the control named ``name`` (of ``role``) has focus."""
    widget.evaluate("el => { el.tabIndex = -1; el.focus({preventScroll: true}); }")
    for _ in range(60):
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED, widget.element_handle())["inside"], f"Tab left the widget before {name!r}"
        got_role, got = focused_name(page)
        if name in got and (not role or role == got_role):
            return
    raise AssertionError(f"Tab never reached {name!r}")


def wait_text_change(page, locator, before: str, pattern: str = "", timeout: float = 30) -> str:
    """Wait until the element's text differs from ``before`` (and matches the regex ``pattern``)."""
    page.wait_for_function(
        "([el, old, re]) => el.textContent !== old && new RegExp(re).test(el.textContent)",
        arg=[locator.element_handle(), before, pattern],
        timeout=seconds(timeout) * 1000,
    )
    return locator.text_content() or ""


def experiment_by_keyboard(page, widget, kind: str, slider: str, *names: str) -> None:
    """Tab through a slider experiment, then move its first slider with the arrow keys: it runs again."""
    stops = tab_through(page, widget, kind)
    assert_named_and_ringed(stops, *names)
    status = widget.locator(".duplexlab-status").first  # the experiment's status line (read out when it changes)
    before = status.text_content() or ""
    images = widget.locator("img")
    srcs = images.evaluate_all("imgs => imgs.map(i => i.src)")
    focus_stop(page, widget, slider, "slider")
    page.keyboard.press("ArrowRight")
    after = wait_text_change(page, status, before, r"^(?![\s\S]*measuring)[\s\S]*run \d+")  # this run, done
    assert page.evaluate(FOCUSED, widget.element_handle())["inside"], "the arrow key moved focus out of the widget"
    if srcs:
        page.wait_for_function(
            "([imgs, old]) => imgs.some((img, i) => img.src !== old[i])",
            arg=[images.element_handles(), srcs],
            timeout=seconds(10) * 1000,
        )
    shoot(page, widget, SHOTS / f"duplexlab-keyboard-{kind}-moved.png")
    print(f"{kind}: {slider!r} moved with the arrow key: {before!r} → {after!r}")


def keyboard_polling(page) -> None:
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
    experiment_by_keyboard(page, widget, "polling", "poll every", "poll every", "judge takes", "students")


def keyboard_arena(page) -> None:
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
    experiment_by_keyboard(
        page, widget, "arena", "events per second", "events per second", "events per burst", "poll every"
    )


def keyboard_tap(page) -> None:
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(button:has-text('Cut now'))")
    stops = tab_through(page, widget, "tap")
    assert_named_and_ringed(stops, "latency", "idle cut after", "idle cut", "Cut now", "Drop server side")
    status = widget.locator(".widget-html-content").first
    focus_stop(page, widget, "latency", "slider")
    page.keyboard.press("ArrowRight")
    wait_text_change(page, status, "", "latency now 10 ms")
    focus_stop(page, widget, "idle cut", "combobox")
    page.keyboard.press("ArrowDown")  # "go silent"; the notebook must not take the key (next cell)
    expect(widget.locator("select")).to_have_value("go silent", timeout=seconds(5) * 1000)
    assert focused_name(page) == ("combobox", "idle cut"), "the arrow key took focus away from the select"
    # the status is read before the key: read after it, it may already show the answer, and no change comes
    focus_stop(page, widget, "Cut now", "button")
    before = status.text_content() or ""
    page.keyboard.press("Enter")
    wait_text_change(page, status, before, "cut \\d+ connection")
    focus_stop(page, widget, "Drop server side", "button")
    before = status.text_content() or ""
    page.keyboard.press("Space")
    wait_text_change(page, status, before, "dropped the server side of")
    shoot(page, widget, SHOTS / "duplexlab-keyboard-tap-used.png")


def keyboard_chat(page) -> None:
    widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.duplexlab-socket)").first
    stops = tab_through(page, widget, "chat")
    assert_named_and_ringed(stops, "messages received", "message to send", "Send")
    log = widget.locator(".duplexlab-socket-log")
    focus_stop(page, widget, "messages received", "list")
    page.keyboard.press("ArrowDown")  # scrolls the log; the notebook must not take the key (next cell)
    assert focused_name(page) == ("list", "messages received"), "the arrow key took focus away from the log"
    focus_stop(page, widget, "message to send")
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Enter")
    log.locator("li", has_text="typed with the keyboard").wait_for(timeout=seconds(10) * 1000)
    page.keyboard.type("sent with the button")
    page.keyboard.press("Tab")
    assert focused_name(page)[1] == "Send"
    page.keyboard.press("Space")
    log.locator("li", has_text="sent with the button").wait_for(timeout=seconds(10) * 1000)
    shoot(page, widget, SHOTS / "duplexlab-keyboard-chat-used.png")


def keyboard_dashboard(page) -> None:
    board = page.locator(f"{PANEL} .jp-OutputArea-output:has(.duplexlab-dashboard)")
    stops = tab_through(page, board, "dashboard")
    assert_named_and_ringed(stops, "New join code", "student", "Remove", "class polls every")
    code = board.locator("code").first
    before = code.inner_text()
    focus_stop(page, board, "New join code", "button")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([sel, old]) => { const c = document.querySelector(sel); return c && c.innerText !== old; }",
        arg=[f"{PANEL} .duplexlab-dashboard code", before],
        timeout=seconds(10) * 1000,
    )
    focus_stop(page, board, "student", "combobox")
    page.keyboard.press("ArrowDown")
    picked = board.locator("select").first.input_value()
    assert picked, "the arrow key picked no student"
    assert focused_name(page) == ("combobox", "student"), "the arrow key took focus away from the select"
    focus_stop(page, board, "Remove", "button")
    page.keyboard.press("Enter")
    board.locator("button", has_text=f"Remove {picked}? Click again").wait_for(timeout=seconds(5) * 1000)
    page.keyboard.press("Enter")
    board.locator(".widget-html-content", has_text=f"removed {picked}").wait_for(timeout=seconds(10) * 1000)
    focus_stop(page, board, "class polls every", "slider")
    page.keyboard.press("ArrowRight")
    board.locator(".widget-html-content", has_text="class polling interval: 1.1 s").wait_for(timeout=seconds(10) * 1000)
    shoot(page, board, SHOTS / "duplexlab-keyboard-dashboard-used.png")


def keyboard_sequence(page) -> None:
    diagram = page.locator(f"{PANEL} .jp-OutputArea-output:has(.duplexlab-seq)").last
    stops = tab_through(page, diagram, "sequence")
    assert_named_and_ringed(stops, "connection", "Text view")
    lane = diagram.locator("select").first
    shown = lane.input_value()
    focus_stop(page, diagram, "connection", "combobox")
    page.keyboard.press("ArrowDown")  # one connection only; the notebook must not take the key (next cell)
    expect(lane).not_to_have_value(shown, timeout=seconds(5) * 1000)
    assert focused_name(page) == ("combobox", "connection"), "the arrow key took focus away from the select"
    page.keyboard.press("ArrowUp")
    expect(lane).to_have_value(shown, timeout=seconds(5) * 1000)
    focus_stop(page, diagram, "sequence diagram", "region")
    page.keyboard.press("ArrowDown")  # scrolls the diagram
    assert focused_name(page)[0] == "region", "the arrow key took focus away from the diagram"
    focus_stop(page, diagram, "Text view", "button")
    page.keyboard.press("Enter")
    listbox = diagram.locator("[role=listbox]")
    listbox.wait_for(state="visible", timeout=seconds(5) * 1000)
    detail = diagram.locator(".duplexlab-seq-detail")
    hint = detail.text_content() or ""
    page.keyboard.press("Tab")
    while focused_name(page)[0] != "listbox":
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED, diagram.element_handle())["inside"], "Tab never reached the text view"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    wait_text_change(page, detail, hint, ".", timeout=5)
    assert listbox.locator("[aria-selected=true]").count() == 1
    shoot(page, diagram, SHOTS / "duplexlab-keyboard-sequence-used.png")


KEYBOARD = {
    "polling": keyboard_polling,
    "chat": keyboard_chat,
    "arena": keyboard_arena,
    "sequence": keyboard_sequence,
    "tap": keyboard_tap,
    "dashboard": keyboard_dashboard,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_keyboard_reaches_names_and_operates_each_widget(ran, kind):
    """After Run All, Tab reaches every control of the widget, each with an accessible name and a visible
    focus ring, and the keyboard alone operates it (arrow keys move a slider and the experiment runs
    again; Enter and Space press buttons; a message is typed and sent)."""
    name = KINDS[kind]
    page = ran.page(name)
    try:
        KEYBOARD[kind](page)
    except BaseException:
        try:  # the picture helps, but never hides the failure (a crashed page takes none)
            page.screenshot(path=str(SHOTS / f"duplexlab-keyboard-{kind}-failure.png"))
        except Exception as exc:
            print(f"no screenshot of the failure: {exc}")
        raise
    finally:
        ran.done(name)
