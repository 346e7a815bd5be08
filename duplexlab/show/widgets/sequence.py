"""A live sequence diagram of a tap's traffic: every request, response, event and frame as an arrow.

The tap hands each chunk it carries to the diagram (on the lab's loop, an
append and nothing more). At most ``rate`` times a second the diagram decodes
what arrived (:class:`~duplexlab.wire.flow.FlowDecoder`) and sends the new
events to the browser as one message over the widget's comm, so it draws while
cells run, even when the browser cannot reach the lab's ports. It keeps the
last ``keep`` events; older ones are counted ("N earlier") and chunks it had
no room to decode are counted too ("N not drawn"): nothing is dropped silently.
The kept events are also the widget's synced ``history``, so a re-rendered
view draws at once without asking the kernel (which may be busy running
cells). The browser side is plain SVG in ``duplexlab/show/js/sequence.js``; it draws
with the one :class:`~duplexlab.show.sequence_layout.Style` it receives as the
widget's ``drawing`` and lays rows out by the rules of
:mod:`duplexlab.show.sequence_layout`.

For a notebook run without a browser (nbclient, an exported notebook) the
output also carries a static SVG of the same diagram
(:func:`~duplexlab.show.sequence_svg.static_svg`), refreshed when the
cell that showed it ends and after each later cell that added to it (so the
saved notebook shows the whole conversation; in a browser the view is then
drawn again from its state, with the same arrows).

Everyone can read it: the SVG (live and static) has a ``<title>`` and a
``<desc>`` with this run's counts (:func:`describe`), and the widget has a text
view with one line per row (:func:`text_lines`, the same line its hover details
start with), which a keyboard reaches and a screen reader reads. Text and lines
are 4.5:1 or more against the diagram's white paper, kept in a dark theme too;
kinds differ by label, line style and arrowhead, never by colour alone. Its text
follows :func:`~duplexlab.show.projector.sizes` when it is created
(``dl.projector()``: 16 px). ``pin="break"`` keeps the last break (a cut, a
silenced path, a dropped server side) and what follows it in view, and
``pings=False`` folds keepalive ``PING``/``PONG`` frames into a count, for a
lesson whose prose is about something else.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ...lab import Lab
from ...runtime.loop import LoopThread
from ...tap import Tap
from ...wire.capture import Chunk
from ...wire.flow import ARROW_KINDS, FlowDecoder, FlowEvent, Note
from ..projector import sizes
from ..sequence_layout import (
    STYLE,
    Geometry,
    describe,
    drawn_label,
    gap_px,
    geometry,
    lane_name,
    layout,
    runs,
    slot_name,
    text_lines,
    unanswered,
    when,
)
from ..sequence_svg import static_svg

__all__ = [
    "Geometry",
    "Sequence",
    "SequenceView",
    "describe",
    "drawn_label",
    "gap_px",
    "geometry",
    "lane_name",
    "layout",
    "runs",
    "slot_name",
    "static_svg",
    "text_lines",
    "unanswered",
    "when",
]

JS = Path(__file__).parent.parent / "js"
_ESM = (JS / "sequence.js").read_text(encoding="utf-8")

MAX_INBOX = 50_000  # chunks waiting to be decoded; beyond, they are counted, not drawn
STATE_EVERY = 1.0  # seconds between syncs of the whole history


class SequenceView(anywidget.AnyWidget):
    """The browser side: draws ``history`` plus the batches sent as custom messages."""

    _esm = _ESM
    history: traitlets.List = traitlets.List().tag(sync=True)
    earlier = traitlets.Int(0).tag(sync=True)
    skipped = traitlets.Int(0).tag(sync=True)
    keep = traitlets.Int(500).tag(sync=True)
    height = traitlets.Int(440).tag(sync=True)  # of the scrolling box, in pixels
    note = traitlets.Unicode("").tag(sync=True)  # why it stopped following, once it has
    title = traitlets.Unicode("").tag(sync=True)  # what it follows: the SVG's <title>
    font = traitlets.Int(13).tag(sync=True)  # text size in px (sizes().widget_text_px when created)
    pin = traitlets.Unicode("").tag(sync=True)  # "break": keep the last break in view; "": the newest rows
    pings = traitlets.Bool(True).tag(sync=True)  # False: PING/PONG frames folded into a count at first
    drawing = traitlets.Dict(STYLE.to_json()).tag(sync=True)  # the geometry and colours sequence.js draws with


class _Watching:
    """One tap followed by a diagram: its decoder, and the function that stops the watching."""

    def __init__(self, tap: Tap, decoder: FlowDecoder, callback) -> None:
        self.tap = tap
        self.decoder = decoder
        self.unwatch = tap.watch(callback)


def _is_control(event: FlowEvent) -> bool:
    """A WebSocket ping or pong (what the diagram folds away with its ping/pong box)."""
    return event.get("kind") == "frame" and event.get("opcode") in ("PING", "PONG")


class _Kept:
    """The last ``keep`` events by id, those not yet sent to the browser, and a count of the changes.

    Pings and pongs keep to a fifth of the place: a long run of them (a keepalive lesson, a slow
    machine) never pushes out the exchanges they sit between, even while they are folded away.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.control_share = max(1, keep // 5)
        self.controls: collections.OrderedDict[int, None] = collections.OrderedDict()  # ids of kept pings/pongs
        self.events: collections.OrderedDict[int, FlowEvent] = collections.OrderedDict()
        self.pending: dict[int, FlowEvent] = {}  # changed since the last message to the browser
        self.trimmed_below = 0  # ids below this were let go
        self.version = 0  # changes to the kept events, counted

    def add(self, events: Iterable[FlowEvent]) -> int:
        """Keep ``events`` (new ones, or updates of kept ones); returns how many old ones it let go."""
        for event in events:
            i = event["id"]
            if i < self.trimmed_below:
                continue  # an update to an event already let go
            self.events[i] = event
            self.pending[i] = event
            if _is_control(event):
                self.controls[i] = None
            self.version += 1
        let_go = 0
        while len(self.events) > self.keep:
            if len(self.controls) > self.control_share:  # the oldest ping or pong goes first (a frame:
                i, _ = self.controls.popitem(last=False)  # never updated later, so no id bound moves)
                self.events.pop(i, None)
            else:
                i, _ = self.events.popitem(last=False)
                self.controls.pop(i, None)
                self.trimmed_below = max(self.trimmed_below, i + 1)
            self.pending.pop(i, None)
            let_go += 1
        return let_go

    def take_pending(self) -> list[dict[str, Any]]:
        """The events changed since the last call, as plain dicts for the browser."""
        batch = [dict(e) for e in self.pending.values()]
        self.pending.clear()
        return batch


LOGGER = logging.getLogger(__name__)

# each source (a tap or a lab) → its live diagram; keyed by the object itself, so a new one never inherits it
_live: weakref.WeakKeyDictionary[Tap | Lab, weakref.ref[Sequence]] = weakref.WeakKeyDictionary()


def _followed(source: Tap | Lab) -> tuple[Lab | None, LoopThread, list[Tap]]:
    """What a diagram of ``source`` follows: the lab that owns it, the lab's loop, the taps now.

    Raises:
        TypeError: ``source`` is neither a tap nor a lab.
        ValueError: the lab that would feed the diagram is not running.
    """
    if isinstance(source, Tap):
        lab, loop, taps = source.lab, source.loop, [source]
    elif isinstance(source, Lab):
        lab, loop, taps = source, source.loop, source.taps
    else:
        raise TypeError(f"a Sequence follows a Tap or a Lab, not {type(source).__name__}")
    if loop is None or not loop.running:
        raise ValueError("show a tap that the lab started (tap = lab.tap(url)) while the lab is running")
    return lab, loop, taps


class Sequence:
    """A live sequence diagram of a tap's traffic, or of all of a lab's taps.

    Show it as a cell's value. Its lifelines are each connection (a client),
    the tap and the server; each HTTP request, HTTP response, server-sent
    event and WebSocket frame is an arrow, labelled (method and path; status;
    opcode, length, masked) and, on hover or click, shown byte for byte
    (headers vs body, frame header vs payload). A request the server holds is
    drawn as a span; an event stream's events as arrows inside its response;
    a cut, a silenced path or a dropped server side as a red break.

    One live diagram per tap (or lab): showing another one retires the old one,
    which keeps its last picture. ``dl.stop()`` stops it too.

    Args:
        source: a :class:`~duplexlab.tap.Tap` started by the lab, or the :class:`~duplexlab.lab.Lab`
            itself (its taps, now and later).
        keep: events kept (and drawn); older ones are counted as "earlier".
        rate: at most this many updates a second go to the browser.
        history: start with what the taps recorded before (``tap.clear()`` forgets it);
            False draws only what crosses from now on.
        height: of the diagram's scrolling box, in pixels (it follows the newest rows).
        pin: ``"break"`` keeps the last break (a cut, a silenced path, a dropped server side) and
            what follows it in view, rather than the newest rows; the reader can change it.
        pings: False folds keepalive ``PING``/``PONG`` frames into a count ("ping/pong folded: 12");
            its tick shows them.

    Its text is :func:`~duplexlab.show.projector.sizes`' ``widget_text_px`` when it is created
    (16 px with ``dl.projector()`` on).

    Example::

        tap = lab.tap(lab.url)
        seq = tap.show()        # or dl.show.Sequence(tap)
        seq                     # the diagram, drawn live from here on
    """

    def __init__(
        self,
        source: Tap | Lab,
        *,
        keep: int = 500,
        rate: float = 30.0,
        title: str = "",
        history: bool = True,
        height: int = 440,
        pin: str | None = None,
        pings: bool = True,
    ) -> None:
        if keep < 1 or rate <= 0:
            raise ValueError(f"keep ≥ 1 and rate > 0, not keep={keep}, rate={rate}")
        if pin not in (None, "", "break"):
            raise ValueError(f'pin="break" keeps the last break in view (or leave it out), not pin={pin!r}')
        lab, loop, taps = _followed(source)
        self.source = source
        self.keep = keep
        self.interval = 1 / rate
        self.title = title or (f"{source.url} → {source.target}" if isinstance(source, Tap) else "the lab's taps")
        self._loop = loop
        recorded = [c.t for tap in taps for c in tap.capture().chunks[:1]] if history else []
        self._t0: float | None = min(recorded, default=None)  # else: the first chunk it sees (as a transcript)
        self._history = history
        self._ids = itertools.count(1)
        self._watching: list[_Watching] = []
        self._inbox: list[tuple[FlowDecoder, Chunk | Note]] = []
        self._lost: dict[FlowDecoder, dict[int, float]] = {}  # connections with chunks not decoded → when
        self._kept = _Kept(keep)
        self.earlier = 0
        self.skipped = 0
        self.updates = 0  # messages sent to the browser
        self._flush_handle: asyncio.TimerHandle | None = None
        self._state_handle: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        self._last_state = 0.0
        self._closed = False
        self._display: Any = None
        self._rendered = -1  # the version the static copy in the output shows
        self._refreshing = False
        self.font = sizes().widget_text_px
        self.pings = pings
        self.view = SequenceView(keep=keep, height=height, title=self.title, font=self.font, pin=pin or "", pings=pings)
        live = _live.get(source)
        old = live() if live is not None else None
        if old is not None:
            old.close("a newer diagram of this tap took over")
        _live[source] = weakref.ref(self)
        for n, tap in enumerate(taps, 1):
            self._follow(tap, prefix="" if isinstance(source, Tap) else f"{n}.")
        self._stop_following_lab: Callable[[], None] | None = None
        if isinstance(source, Lab):
            ref = weakref.ref(self)

            def tap_added(tap: Tap) -> None:  # the lab started another tap: follow it too
                me = ref()
                if me is not None:
                    me._follow(tap, prefix=f"{len(me._watching) + 1}.")

            self._stop_following_lab = source.on_tap(tap_added)
        if lab is not None:
            lab.owned.own(self, weak=True)

    # -- following taps (callbacks on the lab's loop) ----------------------------------

    def _follow(self, tap: Tap, *, prefix: str = "") -> None:
        decoder = FlowDecoder(t0=self._t0 or 0.0, lane_prefix=prefix, ids=self._ids)
        ref = weakref.ref(self)

        def arrived(item: Chunk | Note) -> None:
            me = ref()
            if me is not None:
                me._arrived(decoder, item)

        def begin() -> None:  # on the loop: what was recorded, then what comes, nothing in between
            recorded = tap.capture().chunks if self._history else ()
            if len(recorded) > MAX_INBOX:
                self.skipped += len(recorded)  # too much to draw at once: said, not hidden
                ended = collections.Counter(c.conn for c in recorded if not c.data)
                for c in recorded:
                    if ended[c.conn] < 2:  # still open: its later bytes can't be read without these
                        self._lost.setdefault(decoder, {}).setdefault(c.conn, c.t)
            elif recorded:
                self._inbox.extend((decoder, chunk) for chunk in recorded)
                self._schedule_flush()
            self._watching.append(_Watching(tap, decoder, arrived))

        self._loop.call(begin, timeout=10)

    def _arrived(self, decoder: FlowDecoder, item: Chunk | Note) -> None:
        if len(self._inbox) >= MAX_INBOX:
            self.skipped += 1
            self._lost.setdefault(decoder, {}).setdefault(item.conn, item.t)  # that connection can't be read on
        else:
            self._inbox.append((decoder, item))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and not self._closed:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_flush + self.interval - time.perf_counter())
            self._flush_handle = loop.call_later(delay, self._flush)

    def _decode(self) -> None:
        """Decode what arrived and keep the last ``keep`` events (any thread, while the loop is not feeding)."""
        inbox, self._inbox = self._inbox, []
        if self._t0 is None and inbox:  # the clock starts with the first thing drawn
            self._t0 = inbox[0][1].t
            for watching in self._watching:
                watching.decoder.t0 = self._t0
        lost, self._lost = self._lost, {}
        fed = [decoder.feed(item) for decoder, item in inbox]
        fed += [decoder.lose(t, conn) for decoder, conns in lost.items() for conn, t in conns.items()]
        events = itertools.chain.from_iterable(fed)  # the course's own plumbing (the code runner's page) is left out
        self.earlier += self._kept.add(e for e in events if not e.get("machinery"))

    def _flush(self) -> None:
        """Send what changed to the browser in one message (on the loop, at most ``rate`` times a second)."""
        self._flush_handle = None
        self._last_flush = time.perf_counter()
        self._decode()
        if self._kept.pending:
            batch = self._kept.take_pending()
            self.view.send({"type": "events", "events": batch, "earlier": self.earlier, "skipped": self.skipped})
            self.updates += 1
        if self._state_handle is None:
            delay = max(0.0, self._last_state + STATE_EVERY - time.perf_counter())
            self._state_handle = asyncio.get_running_loop().call_later(delay, self._sync_state)

    def _sync_state(self) -> None:
        self._state_handle = None
        self._last_state = time.perf_counter()
        with self.view.hold_sync():
            self.view.history = [dict(e) for e in self._kept.events.values()]
            self.view.earlier, self.view.skipped = self.earlier, self.skipped

    def sync(self) -> None:
        """Decode everything the taps carried so far and bring the widget's state up to date (any thread)."""
        if self._loop.running:
            self._loop.call(self._refresh, timeout=10)
        else:  # the lab stopped: nothing feeds the diagram any more
            self._refresh()

    def _refresh(self) -> None:
        self._decode()
        self._sync_state()

    # -- what it shows ---------------------------------------------------------------

    def events(self) -> list[FlowEvent]:
        """The kept events, in time order (copies)."""
        self.sync()
        return [e.copy() for e in sorted(self._kept.events.values(), key=lambda e: (e["t"], e["id"]))]

    def arrows(self) -> list[str]:
        """The labels of the arrows, top to bottom (requests, responses, events, frames)."""
        return [e["label"] for e in self.events() if e["kind"] in ARROW_KINDS]

    def svg(self) -> str:
        """The diagram as a standalone SVG document."""
        events = self.events()
        now = None if self._closed or self._t0 is None else time.perf_counter() - self._t0
        return static_svg(
            events,
            earlier=self.earlier,
            skipped=self.skipped,
            title=self.title,
            now=now,
            font=self.font,
            pings=self.pings,
        )

    def describe(self) -> str:
        """What it shows, with this run's counts (the SVG's ``<desc>``)."""
        return describe(self.events(), earlier=self.earlier, skipped=self.skipped, pings=self.pings)

    def text(self) -> str:
        """The text view: one line per row, top to bottom (what a screen reader reads)."""
        return "\n".join(text_lines(self.events()).values())

    def save_svg(self, path: str | Path) -> Path:
        """Write the diagram to an SVG file (for slides); returns its path."""
        target = Path(path)
        target.write_text(self.svg(), encoding="utf-8")
        return target

    def summary(self) -> str:
        kinds = collections.Counter(e["kind"] for e in self._kept.events.values())
        parts = [f"{kinds[k]} {k}(s)" for k in ("request", "response", "sse", "frame") if kinds[k]]
        extra = f"; {self.earlier} earlier not kept" if self.earlier else ""
        extra += f"; {self.skipped} chunks not drawn (too fast)" if self.skipped else ""
        return f"sequence diagram of {self.title}: " + (", ".join(parts) or "nothing yet") + extra

    def _bundle(self) -> dict[str, Any]:
        bundle = self.view._repr_mimebundle_() or ({}, {})  # anywidget: (data, metadata)
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["image/svg+xml"] = self.svg()
        data["text/plain"] = self.summary()
        return data

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        self._display = display(self._bundle(), raw=True, display_id=True)
        self._rendered = self._kept.version
        shell = get_ipython()
        if shell is None or self._refreshing:
            return
        self._refreshing = True

        def cell_ended(result=None) -> None:
            """After each cell: if the diagram changed, refresh the static copy in its output."""
            if self._display is None:
                return
            if not self._closed:
                self.sync()
            if self._kept.version != self._rendered:
                self._rendered = self._kept.version
                self._display.update(self._bundle(), raw=True)
            if self._closed and self._kept.version == self._rendered:
                shell.events.unregister("post_run_cell", cell_ended)
                self._refreshing = False

        shell.events.register("post_run_cell", cell_ended)

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    # -- the end -----------------------------------------------------------------------

    def close(self, reason: str = "") -> None:
        """Stop following the taps; the view keeps its last picture. Twice is harmless."""
        if self._closed:
            return
        for watching in self._watching:
            watching.unwatch()
        if self._stop_following_lab is not None:
            self._stop_following_lab()
        self._closed = True
        self.reason = reason or "stopped"

        def finish() -> None:
            for handle in (self._flush_handle, self._state_handle):
                if handle is not None:
                    handle.cancel()
            self._flush_handle = self._state_handle = None
            try:
                self._refresh()
                self.view.note = f"no longer live: {self.reason}"
            except Exception:  # the widget's comm is gone (the kernel is shutting down)
                LOGGER.debug("the diagram %r could not show its last picture", self.title, exc_info=True)

        try:
            self._loop.call_soon(finish)  # nobody waits for it
        except RuntimeError:  # LabNotRunningError: the lab stopped, nothing feeds the diagram any more
            finish()
