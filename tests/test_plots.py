"""Plots draw what they are given, say it in words with the run's numbers, and read from the back row."""

import base64
import html
import re
import threading
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # tests only: no kernel here to show images
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from duplexlab.clients.polling import expected_polls
from duplexlab.experiments.arena import ArenaResult, TransportResult
from duplexlab.show import figure, plots, projector
from duplexlab.wire.capture import Counts


def test_timeline_draws_events_requests_and_the_wait_on_the_server():
    """One marker per server event and per request; each learned event's wait drawn on the server's
    row (not as travel), with its length; a legend entry for every kind of mark."""
    fig, ax = plt.subplots()
    plots.timeline({1: 0.5, 2: 1.5}, [(0.0, 0.01), (1.0, 1.01), (2.0, 2.01)], {1: 1.01, 2: 2.01}, ax=ax)
    server, client = ax.collections[:2]
    assert len(np.asarray(server.get_offsets())) == 2 and len(np.asarray(client.get_offsets())) == 3
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["waited 510 ms", "waited 510 ms"]
    drawn_legend = ax.get_legend()
    assert drawn_legend is not None
    legend = [t.get_text() for t in drawn_legend.get_texts()]
    assert set(legend) == {
        "request in flight (sent → answered)",
        "server creates a notification",
        "client sends a request",
        "news waits on the server",
        "client learns of it",
    }
    plt.close(fig)


def test_bytes_split_stacks_header_and_body():
    """Two bars per direction, with the totals written beside them."""
    fig, ax = plt.subplots()
    plots.bytes_split(Counts(header_bytes_up=150, header_bytes_down=160, body_bytes_down=120), ax=ax)
    assert len(ax.patches) == 4
    assert any("280 B (160 header)" in t.get_text() for t in ax.texts)
    plt.close(fig)


# -- what each plot says in words ---------------------------------------------------------------


@dataclass
class Polled:
    """The parts of a PollingResult the dashboard reads (the real one needs a server)."""

    interval: float
    requests: int
    wasted: int
    delays: list[float]
    bytes_total: int
    header_bytes: int
    judge_seconds: float = 0.5
    students: int = 5
    rtt: float = 0.002

    @property
    def mean_delay(self) -> float:
        return sum(self.delays) / len(self.delays)

    @property
    def theory_delay(self) -> float:
        return self.interval / 2 + self.rtt / 2

    @property
    def expected_requests_per_student(self) -> int:
        return expected_polls(self.judge_seconds + self.interval / 2, self.interval)


SWEEP = [
    Polled(0.1, 34, 29, [0.05, 0.06, 0.055, 0.062, 0.063], 17350, 11000),
    Polled(0.25, 20, 15, [0.1, 0.13, 0.12, 0.14, 0.14], 13000, 8000),
    Polled(0.5, 15, 10, [0.2, 0.25, 0.22, 0.21, 0.2], 11000, 7000),
    Polled(1.0, 12, 7, [0.4, 0.45, 0.5, 0.38, 0.42], 9000, 6000),
]


def transport(name, delays, requests, bytes_total, cpu):
    return TransportResult(
        name,
        clients=1,
        events=len(delays),
        delays=delays,
        requests=requests,
        bytes_total=bytes_total,
        header_bytes=bytes_total // 2,
        payload_bytes=bytes_total // 2,
        cpu_seconds=cpu,
        seconds=1.0,
        opening_requests=0 if name in ("polling", "long polling") else 1,
    )


def arena_result(clients=1) -> ArenaResult:
    n = 50
    results = {
        "polling": transport("polling", [0.4 + i / 500 for i in range(n)], 2, 6000, 0.004),
        "long polling": transport("long polling", [0.0012] * n, n, 19300, 0.018),
        "SSE": transport("SSE", [0.0009] * n, 1, 8900, 0.009),
        "WebSocket": transport("WebSocket", [0.0011] * n, 1, 8350, 0.007),
    }
    for r in results.values():
        r.clients = clients
    return ArenaResult(70, 1, 1.0, 1.0, clients, [i / 50 for i in range(n)], results, seed=2026)


def received(n, every=1):
    return [(i, {"ball": i}, i * 0.01 + 0.003) for i in range(n) if i % every == 0]


ALL = {
    "timeline": lambda **kw: plots.timeline(
        {1: 0.3, 2: 1.4}, [(0, 0.01), (1, 1.01), (2, 2.01)], {1: 1.01, 2: 2.01}, **kw
    ),
    "bytes_split": lambda **kw: plots.bytes_split(
        Counts(header_bytes_up=150, header_bytes_down=160, body_bytes_down=120), **kw
    ),
    "polling_dashboard": lambda **kw: plots.polling_dashboard(SWEEP, current=SWEEP[1], **kw),
    "side_by_side": lambda **kw: plots.side_by_side(arena_result(), **kw),
    "classroom": lambda **kw: plots.classroom([arena_result(10), arena_result(100)], **kw),
    "resume": lambda **kw: plots.resume(
        [i * 0.01 for i in range(200)],
        {"resumes": received(200), "just reconnects": received(200, 2)},
        [0.5, 1.2],
        **kw,
    ),
    "keepalive": lambda **kw: plots.keepalive([(0.2, 0.2, 0.1), (0.4, 0.4, 0.4)], [0.52, 1.23], **kw),
}


def test_every_plot_the_course_draws_is_here():
    """Each public plot function has its case above (a new plot needs its alt and its tests)."""
    assert set(ALL) == {name for name in plots.__all__ if callable(getattr(plots, name)) and name != "contrast"}


def test_the_alt_says_what_each_plot_shows_with_its_numbers():
    """Each alt is a short sentence or three with the numbers of the run, as the lessons print them."""
    alts = {name: draw(show=False).alt for name, draw in ALL.items()}
    assert alts["timeline"].endswith(
        "2 notification(s) waited 710 and 610 ms on the server before a reply brought them."
    )
    assert (
        "client → server 150 B (150 header, 0 body); server → client 280 B (160 header, 120 body)"
        in alts["bytes_split"]
    )
    dash = alts["polling_dashboard"]
    assert "Polls per student fall from 6.8 at 0.1 s to 2.4 at 1 s" in dash  # str(PollingResult)'s numbers
    assert "Delay grows from 58 ms to 430 ms (theory 51 to 501 ms" in dash and "Ringed: this run, every 0.25 s" in dash
    side = alts["side_by_side"]
    assert "50 events at 70/s, polling every 1 s" in side
    assert "Median delay: polling 449.0 ms, long polling 1.2 ms, SSE 0.9 ms, WebSocket 1.1 ms" in side  # table()'s
    assert "Bytes per event: polling 120, long polling 386, SSE 178, WebSocket 167" in side
    assert "N = 10 to 100 clients" in alts["classroom"] and "polling 449.0 → 449.0 ms" in alts["classroom"]
    assert (
        "200 messages published in 2.0 s, with 2 cut(s). resumes: 200 received; just reconnects: 100" in alts["resume"]
    )
    assert "0.52 s for 0.2 + 0.2 + 0.1 = 0.50 s; 1.23 s for 0.4 + 0.4 + 0.4 = 1.20 s" in alts["keepalive"]
    for name, alt in alts.items():
        assert 40 < len(alt) < 420, (name, len(alt), alt)


def test_the_numbers_table_holds_the_same_data_as_text():
    """Show the numbers: one row per point drawn, formatted as the lesson prints it."""
    dash = plots.polling_dashboard(SWEEP, show=False)
    (table,) = dash.tables
    assert [row[0] for row in table.rows] == ["0.1", "0.25", "0.5", "1"]
    assert [row[1] for row in table.rows] == ["6.8", "4.0", "3.0", "2.4"]  # polls per student
    assert [row[4] for row in table.rows] == ["58", "126", "216", "430"]  # mean delay, ms
    side = plots.side_by_side(arena_result(), show=False).tables[0]
    assert side.columns[:2] == ("transport", "delay p50 (ms)")
    assert [r[:2] for r in side.rows] == [
        ("polling", "449.0"),
        ("long polling", "1.2"),
        ("SSE", "0.9"),
        ("WebSocket", "1.1"),
    ]
    timeline = plots.timeline({1: 0.3}, [(0, 0.01), (1, 1.01)], {1: 1.01}, show=False)
    assert [t.caption for t in timeline.tables] == ["Notifications", "Requests"]
    assert timeline.tables[0].rows == (("1", "0.300", "1.010", "710"),)
    assert timeline.tables[0].text().splitlines()[2].split() == ["1", "0.300", "1.010", "710"]


def test_the_mimebundle_is_a_figure_with_alt_size_and_numbers_a_png_and_the_alt_as_text():
    """text/html: <figure> with the <img> (data URI, alt, width, height) and a "Show the numbers"
    <details> with the tables; image/png for exports; text/plain is the alt."""
    plot = ALL["keepalive"](show=False)
    data, metadata = plot._repr_mimebundle_()
    assert set(data) == {"text/html", "image/png", "text/plain"}
    assert data["text/plain"] == plot.alt
    png = base64.b64decode(data["image/png"])
    assert png == plot.png and figure.png_size(png) == (plot.width, plot.height)
    assert metadata == {"image/png": {"width": plot.width, "height": plot.height}}
    page = data["text/html"]
    found_img = re.search(r"<img ([^>]*)>", page)
    assert found_img is not None
    img = found_img.group(1)
    assert f'alt="{html.escape(plot.alt, quote=True)}"' in img
    assert f'width="{plot.width}" height="{plot.height}"' in img and "max-width:100%;height:auto" in img
    src = re.search(r'src="data:image/png;base64,([^"]+)"', img)
    assert src is not None and base64.b64decode(src.group(1)) == plot.png
    assert page.startswith('<figure class="duplexlab-plot"') and page.endswith("</figure>")
    assert "<details" in page and re.search(r"<summary[^>]*>Show the numbers</summary>", page)
    assert '<th scope="col">measured (s)</th>' in page and "<td>1.23</td>" in page
    assert plot.width <= 900  # fits a notebook's output area at 1366 px: never shrunk by the browser


def test_alt_and_tables_are_escaped():
    """A name with markup in it stays text."""
    plot = plots.resume([0.0, 0.1], {'<b>"x"</b>': received(2)}, [], show=False)
    page = plot.html()
    assert "<b>" not in page and "&lt;b&gt;&quot;x&quot;&lt;/b&gt;" in page


def test_no_pyplot_figure_is_made_or_left_behind():
    """The plots draw on figures pyplot never sees: the inline backend shows no second copy."""
    plt.close("all")
    for name, draw in ALL.items():
        assert isinstance(draw(show=False), figure.Plot), name
        assert isinstance(draw(), figure.Plot), name  # no IPython here: shown nowhere, returned
    assert plt.get_fignums() == []


def test_in_a_notebook_the_plot_shows_once_where_it_is_called_and_again_when_asked():
    """Called in a cell: shown there, not a second time as the cell's last value; a later cell shows it again."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from duplexlab.show import plots", store_history=True)
        with capture_output() as cell:
            shell.run_cell("p = plots.keepalive([(0.2, 0.2, 0.1)], [0.52])\np", store_history=True)
        with capture_output() as later:
            shell.run_cell("p", store_history=True)
    finally:
        InteractiveShell.clear_instance()
    for shown in (cell, later):
        assert len(shown.outputs) == 1
        assert "0.52 s" in shown.outputs[0].data["text/plain"] and "<figure" in shown.outputs[0].data["text/html"]


# -- from the back row ---------------------------------------------------------------------------


def drawn(name, monkeypatch) -> Figure:
    """The figure a plot function drew (as it is turned into a PNG)."""
    seen = []
    real = plots._plot

    def keep(fig, alt, tables, show):
        seen.append(fig)
        return real(fig, alt, tables, show)

    monkeypatch.setattr(plots, "_plot", keep)
    ALL[name](show=False)
    monkeypatch.setattr(plots, "_plot", real)
    return seen[0]


def guides(fig: Figure) -> set:
    """Grid lines and marks tagged as guides: there to help the eye, not data."""
    out = {line for ax in fig.axes for line in (*ax.get_xgridlines(), *ax.get_ygridlines())}
    return out | {a for a in fig.findobj() if getattr(a, "get_gid", lambda: None)() == "guide"}


@pytest.fixture(params=[False, True], ids=["normal", "projector"])
def mode(request):
    projector.projector(request.param)
    yield projector.sizes()
    projector.projector(False)


@pytest.mark.parametrize("name", sorted(ALL))
def test_text_is_large_enough_and_lines_and_text_contrast_4_5_to_1(name, mode, monkeypatch):
    """Every label, tick, title and legend is at least plot_text_pt (14 pt in projector mode, at
    96 dpi: a point on screen at the image's own size); every line and text reaches 4.5:1 on white."""
    fig = drawn(name, monkeypatch)
    small: list[tuple[str, float | str]] = []
    faint: list[tuple[str, object, str]] = []
    for t in fig.findobj(Text):
        if not (t.get_visible() and t.get_text().strip()):
            continue
        if t.get_fontsize() < mode.plot_text_pt - 1e-9:
            small.append((t.get_text(), t.get_fontsize()))
        color = matplotlib.colors.to_hex(t.get_color())
        if plots.contrast(color, alpha=t.get_alpha() or 1.0) < 4.5:
            faint.append(("text", t.get_text(), color))
    skip = guides(fig)
    for line in fig.findobj(Line2D):
        if (
            line in skip
            or not line.get_visible()
            or line.get_linestyle() == "None"
            and line.get_marker() in (None, "None", "")
        ):
            continue
        for color in {matplotlib.colors.to_hex(line.get_color()), matplotlib.colors.to_hex(line.get_markeredgecolor())}:
            if plots.contrast(color, alpha=line.get_alpha() or 1.0) < 4.5:
                faint.append(("line", line.get_label(), color))
    assert small == [] and faint == []
    assert fig.get_figwidth() * figure.DPI <= 900  # inside the output area at 1366 px: not shrunk


def test_the_palette_reaches_4_5_to_1_on_white():
    """Every colour the plots draw lines and labels in (Okabe-Ito hues, darkened where needed)."""
    for color in plots.COLORS + tuple(plots.TRANSPORT_COLORS.values()):
        assert plots.contrast(color) >= 4.5, color


def test_meaning_is_never_colour_alone(monkeypatch):
    """Each transport has its own marker and line style (classroom) and hatching (side by side)."""
    fig = drawn("classroom", monkeypatch)
    lines = [line for line in fig.axes[0].get_lines() if not str(line.get_label()).startswith("_")]
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == len(lines) == 4
    fig = drawn("side_by_side", monkeypatch)
    hatches = [p.get_hatch() for p in fig.axes[1].patches]
    assert len(set(hatches)) == 4


def test_drawing_from_threads_leaves_the_notebooks_settings_alone():
    """Widgets draw on worker threads while a cell may draw too: rcParams come back as they were."""
    before = dict(matplotlib.rcParams)
    threads = [threading.Thread(target=ALL[name], kwargs={"show": False}) for name in ("classroom", "keepalive") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert dict(matplotlib.rcParams) == before
