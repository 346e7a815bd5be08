// A live sequence diagram of what a tap carries: one lifeline per connection (the clients),
// the tap, the server; one row per HTTP request, response, server-sent event or WebSocket frame.
// Events come from the kernel over the widget's comm: in batches as "msg:custom", and as the
// synced "history" (so a re-rendered view or a reloaded page draws at once, without asking the
// kernel). Plain SVG: no library, no network.
//
// Everyone can read it: the SVG is an image with a <title> and a <desc> (this run's counts); a
// text view lists one line per row (the line its hover details start with), one tab stop, moved
// through with the arrow keys, each row's bytes shown below as on hover; every control has a name
// and a visible focus. It is drawn on white paper (in a dark theme too) with text and lines at
// 4.5:1 or more; kinds differ by label, line style and arrowhead, not by colour alone. What the
// prose points at stays in view: the newest rows, or (pin "break") the last break and what follows.

const SVG = "http://www.w3.org/2000/svg";
// The numbers and colours come from the kernel: the model's "drawing" is duplexlab.show.sequence_layout's
// Style (lengths at style.font px text, colours, the legend), the one source the static SVG draws with too.
const ARROWS = new Set(["request", "response", "sse", "frame", "data", "swallowed"]);
const BREAKS = new Set(["cut", "silence", "drop"]);
const isControl = (e) => e.kind === "frame" && (e.opcode === "PING" || e.opcode === "PONG");
const GROUPS = {
  http: (e) => e.kind === "request" || e.kind === "response" || e.kind === "data",
  sse: (e) => e.kind === "sse",
  frames: (e) => e.kind === "frame" && !isControl(e),
  control: isControl,
  breaks: (e) => !ARROWS.has(e.kind) || e.kind === "swallowed",
};
const css = ({ ink: INK, muted: MUTED, focus: FOCUS }) => `
.duplexlab-seq { background: #fff; color: ${INK}; color-scheme: light; box-sizing: border-box; max-width: 100%;
  border: 1px solid #767676; border-radius: 6px; padding: 6px; }
.duplexlab-seq :focus-visible { outline: 3px solid ${FOCUS}; outline-offset: 2px; }
.duplexlab-seq select, .duplexlab-seq input, .duplexlab-seq button { font: inherit; color: ${INK}; }
.duplexlab-seq select, .duplexlab-seq input[type=number] { background: #fff; border: 1px solid #767676; border-radius: 3px; }
.duplexlab-seq input::placeholder { color: ${MUTED}; opacity: 1; }
.duplexlab-seq button { background: #f2f2f2; border: 1px solid #767676; border-radius: 4px; padding: 1px 8px;
  cursor: pointer; }
.duplexlab-seq button[aria-expanded=true] { background: #dbe6fb; }
.duplexlab-seq input[type=checkbox] { width: 1em; height: 1em; margin: 0 0.25em 0 0; vertical-align: -0.1em; }
.duplexlab-seq-bar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin-bottom: 4px; }
.duplexlab-seq-bar > * { white-space: nowrap; }
.duplexlab-seq-bar label { cursor: pointer; }
.duplexlab-seq-status { min-height: 1.4em; color: ${MUTED}; font-weight: bold; }
.duplexlab-seq-scroll { overflow: auto; position: relative; border-top: 1px solid #ccc; }
.duplexlab-seq-names { position: sticky; top: 0; z-index: 1; display: block; background: #fff; }
.duplexlab-seq-svg { display: block; }
.duplexlab-seq-detail { margin: 4px 0 0; padding: 4px; background: #f4f4f4; color: ${INK}; overflow: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; font-family: monospace; box-sizing: border-box; }
.duplexlab-seq-text { margin-top: 4px; }
.duplexlab-seq-list { overflow: auto; border: 1px solid #767676; border-radius: 3px; padding: 2px 0; margin: 8px 0 4px; }
.duplexlab-seq-list [role=option] { padding: 1px 6px; white-space: pre-wrap; overflow-wrap: anywhere; cursor: pointer; }
.duplexlab-seq-list [role=option][aria-selected=true] { background: ${FOCUS}; color: #fff; }
`;

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function html(name, attrs, text) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// the same rules as duplexlab/show/sequence_layout.py (geometry, when, gap_px, drawn_label, layout,
// describe, text_lines): tests compare the two on a recorded flow
function geometry(font, style) {
  const k = font / style.font, r = (v) => Math.round(v * k);
  return { font, k, row: r(style.row), top: r(style.top), left: r(style.left), timeX: r(style.time_x),
           lane: r(style.lane), tapGap: r(style.tap_gap), serverGap: r(style.server_gap), right: r(style.right),
           style };
}

function when(t) {
  return t.toFixed(3) + " s";
}

function gapPx(dt, k, style) {
  if (dt < style.gap_from) return 0;
  return Math.min(Math.round(style.gap_max * k), Math.round(style.gap_per_root_s * k * Math.sqrt(dt)));
}

function sizes(e) {
  if (e.kind === "frame") return `${e.bytes} bytes on the wire: ${e.head} frame header + ${e.body} payload`;
  if (e.kind === "sse") return `${e.bytes} bytes of the response's body`;
  if (e.kind === "request" || e.kind === "response")
    return `${e.bytes} bytes on the wire: ${e.head} header + ${e.body} body` + (e.done ? "" : " so far");
  if (e.bytes) return `${e.bytes} bytes`;
  return "";
}

function drawnLabel(e, maxLabel) {
  let label = e.label;
  if (e.kind === "response" && e.stream) label += ` · ${e.head} B, then a stream`;
  else if (["request", "response", "frame"].includes(e.kind)) label += ` · ${e.bytes} B`;
  if (e.hint) label += ` · ${e.hint}`;
  if (!e.done && (e.kind === "request" || e.kind === "response")) label += " …";
  return label.length <= maxLabel ? label : label.slice(0, maxLabel - 1) + "…";
}

function slotName(lanes) {
  // the name over a column: "conn 3", or "conn 1, 2, 3" when connections took turns in it
  if (lanes.length === 1) return laneName(lanes[0]);
  const [tap] = lanes[0].split(".");
  const numbers = runs(lanes.map((l) => Number(l.split(".").pop())));
  const name = (lanes[0].includes(".") ? `tap ${tap} · ` : "") + "conn " + numbers;
  return name.length <= 16 ? name : name.slice(0, 15) + "…";
}

function runs(numbers) {
  // 1, 2, 3, 4, 6 → "1–4, 6": consecutive numbers as a range
  const parts = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    parts.push(j - i >= 2 ? `${numbers[i]}–${numbers[j]}` : numbers.slice(i, j + 1).join(", "));
    i = j + 1;
  }
  return parts.join(", ");
}

function laneName(lane) {
  const [tap, conn] = lane.split(".");
  return conn === undefined ? "conn " + lane : `tap ${tap} · conn ${conn}`;
}

function closedSides(shown) {
  const closed = new Map();
  for (const e of shown) {
    if (!closed.has(e.lane)) closed.set(e.lane, new Set());
    if (e.kind === "end") closed.get(e.lane).add(e.dir);
    if (e.kind === "cut") { closed.get(e.lane).add("up"); closed.get(e.lane).add("down"); }
    if (e.kind === "drop") closed.get(e.lane).add("down");  // the server's side is gone
  }
  return closed;
}

function layout(shown, earlier, g) {
  const lanes = [...new Set(shown.map((e) => e.lane))];
  let y = g.top + g.row * (earlier ? 2 : 1), prev = null;
  const rowY = new Map(), gaps = [];
  for (const e of shown) {
    if (prev) {
      const extra = gapPx(e.t - prev.t, g.k, g.style);
      if (extra) gaps.push([y + extra / 2 + g.row / 2 - 4, e.t - prev.t]);
      y += g.row + extra;
    }
    rowY.set(e.id, y);
    prev = e;
  }
  const bottom = y + g.row;
  const first = new Map(), last = new Map();
  for (const e of shown) {
    if (!first.has(e.lane)) first.set(e.lane, rowY.get(e.id));
    last.set(e.lane, rowY.get(e.id));
  }
  const closed = closedSides(shown);
  const ends = new Map(lanes.map((l) => [l, closed.get(l).size === 2 ? last.get(l) : bottom]));
  // columns: a connection that has ended gives its column to the next one that starts after it
  const freeAfter = [], slotLanes = [], xLane = new Map(), shared = new Set();
  for (const l of lanes) {
    let slot = freeAfter.findIndex((end) => end < first.get(l));
    if (slot < 0) { slot = freeAfter.length; slotLanes.push([]); }
    freeAfter[slot] = ends.get(l) < bottom ? ends.get(l) : Infinity;
    slotLanes[slot].push(l);
    xLane.set(l, g.left + g.lane * (slot + 0.5));
  }
  for (const group of slotLanes) if (group.length > 1) for (const l of group) shared.add(l);
  const slots = slotLanes.map((group, i) => [g.left + g.lane * (i + 0.5), slotName(group)]);
  const xTap = g.left + g.lane * Math.max(1, slots.length) + g.tapGap;
  const xServer = xTap + g.serverGap;
  return { lanes, slots, shared, xLane, xTap, xServer, rowY, gaps, height: bottom, width: xServer + g.right, first,
           ends };
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || one + "s"}`;
}

const ARROW_WORDS = [
  [(e) => e.kind === "request", "request", "requests"],
  [(e) => e.kind === "response", "response", "responses"],
  [(e) => e.kind === "sse", "server-sent event", "server-sent events"],
  [(e) => e.kind === "frame" && !isControl(e), "frame", "frames"],
  [isControl, "ping/pong frame", "ping/pong frames"],
  [(e) => e.kind === "data", "chunk of other bytes", "chunks of other bytes"],
  [(e) => e.kind === "swallowed", "write swallowed by a dead path", "writes swallowed by a dead path"],
];
const MARK_WORDS = [
  ["cut", "cut", "cuts"],
  ["silence", "silenced path", "silenced paths"],
  ["drop", "server side dropped", "server sides dropped"],
  ["end", "side closed", "sides closed"],
  ["lost", "connection not drawn to its end", "connections not drawn to their end"],
];

function describe(events, { earlier = 0, skipped = 0, pings = true } = {}) {
  // what the diagram shows, with this run's counts: the SVG's <desc>
  let text;
  if (!events.length) text = "nothing has crossed the tap yet";
  else {
    const lanes = new Set(events.map((e) => e.lane)).size;
    const arrows = events.filter((e) => ARROWS.has(e.kind));
    const kinds = [];
    for (const [test, one, many] of ARROW_WORDS) {
      const n = arrows.filter(test).length;
      if (n) kinds.push(plural(n, one, many) + (one === "ping/pong frame" && !pings ? " (folded)" : ""));
    }
    const marks = [];
    for (const [kind, one, many] of MARK_WORDS) {
      const n = events.filter((e) => e.kind === kind).length;
      if (n) marks.push(plural(n, one, many));
    }
    text = `${plural(lanes, "connection")}; ` +
      (arrows.length ? `${plural(arrows.length, "arrow")}: ${kinds.join(", ")}` : "no arrows");
    if (marks.length) text += `; ${marks.join(", ")}`;
    const times = events.map((e) => e.t);
    text += `; ${when(Math.min(...times))} to ${when(Math.max(...times))}`;
  }
  if (earlier) text += `; ${earlier} earlier events not kept`;
  if (skipped) text += `; ${skipped} chunks not drawn (too fast)`;
  return text;
}

function unanswered(shown) {
  // requests sent whole with no response among those shown: held by the server, or never answered
  const answered = new Set(shown.filter((e) => e.kind === "response").map((e) => e.req));
  return shown.filter((e) => e.kind === "request" && e.done && !e.lost && !answered.has(e.id));
}

function textLines(shown) {
  // one line per row, by id: when, who to whom, the whole label, its sizes, how long it was held
  const byId = new Map(shown.map((e) => [e.id, e]));
  const closed = closedSides(shown);
  const waiting = new Set(unanswered(shown).map((e) => e.id));
  const lines = new Map();
  for (const e of shown) {
    const parts = [when(e.t)];
    if (ARROWS.has(e.kind)) {
      const who = laneName(e.lane);
      parts.push(e.dir === "up" ? `${who} → server` : `server → ${who}`, e.label);
      const sz = sizes(e);
      if (sz) parts.push(sz);
      const req = e.kind === "response" ? byId.get(e.req) : undefined;
      if (req && e.t - req.t >= 0.1) parts.push(`held ${(e.t - req.t).toFixed(2)} s`);
      if (waiting.has(e.id))
        parts.push(closed.get(e.lane).size === 2 ? "no answer (the connection ended)" : "no answer yet");
    } else {
      parts.push(e.label);
    }
    lines.set(e.id, parts.join(" · "));
  }
  return lines;
}

let views = 0;  // ids unique on the page, for labels and ARIA references

function render({ model, el: root }) {
  const uid = `dl-seq-${Date.now().toString(36)}-${++views}`;
  const style = model.get("drawing");
  const { colors: COLORS, muted: MUTED, lifeline: LIFELINE, held_text: HELD_TEXT, ink: INK, legend: LEGEND } = style;
  const geo = geometry(model.get("font") || 13, style);
  const font = geo.font;
  const headerH = geo.top - 6;  // the lifelines' names, sticky above the rows

  const box = html("div", { class: "duplexlab-seq", "data-lm-suppress-shortcuts": "true" });
  box.style.fontSize = font + "px";
  box.style.fontFamily = "sans-serif";
  box.append(html("style", {}, css(style)));

  // -- the controls: each with a name, all reachable with Tab, a visible focus --
  const bar = html("div", { class: "duplexlab-seq-bar" });
  const summary = html("span", { class: "duplexlab-seq-summary" });
  summary.style.fontWeight = "bold";
  const lanePick = html("select", { class: "duplexlab-seq-lane", id: uid + "-lane" });
  const laneBox = html("span");
  laneBox.append(html("label", { for: uid + "-lane" }, "connection "), lanePick);
  const kinds = {};
  const kindBox = html("span", { role: "group", "aria-label": "rows shown" });
  for (const [name, label] of [["http", "HTTP"], ["sse", "SSE"], ["frames", "frames"], ["control", "ping/pong"],
                               ["breaks", "ends, cuts"]]) {
    const tick = html("input", { type: "checkbox", class: "duplexlab-seq-kind-" + name, id: `${uid}-kind-${name}` });
    tick.checked = name !== "control" || model.get("pings") !== false;
    kinds[name] = tick;
    const lab = html("label", { for: tick.id });
    lab.append(tick, label);
    lab.style.marginRight = "0.6em";
    kindBox.append(lab);
  }
  const range = html("span");
  const from = html("input", { type: "number", step: "0.1", placeholder: "from s", class: "duplexlab-seq-from",
                               id: uid + "-from", "aria-label": "from (seconds)" });
  const to = html("input", { type: "number", step: "0.1", placeholder: "to s", class: "duplexlab-seq-to",
                             id: uid + "-to", "aria-label": "to (seconds)" });
  for (const input of [from, to]) input.style.width = "4.5em";
  range.append(html("label", { for: from.id }, "from "), from, html("label", { for: to.id }, " to "), to, " s");
  const keepPick = html("select", { class: "duplexlab-seq-keep", id: uid + "-keep" });
  keepPick.append(new Option("the newest rows", "newest"), new Option("the last break", "break"),
                  new Option("where I scroll", "free"));
  keepPick.value = model.get("pin") === "break" ? "break" : "newest";
  const keepBox = html("span");
  keepBox.append(html("label", { for: keepPick.id }, "keep in view "), keepPick);
  const textButton = html("button", { type: "button", class: "duplexlab-seq-textbutton", "aria-expanded": "false",
                                      "aria-controls": uid + "-text" }, "Text view");
  const save = html("button", { type: "button", class: "duplexlab-seq-save",
                                title: "download this diagram as an SVG file (for slides)" }, "Save SVG");
  bar.append(summary, laneBox, kindBox, range, keepBox, textButton, save);
  const status = html("div", { class: "duplexlab-seq-status" });

  // -- the diagram: the names stay on top (sticky) while the rows scroll under them --
  const scroller = html("div", { class: "duplexlab-seq-scroll", tabindex: "0", role: "region",
                                 "aria-label": "sequence diagram (scrolls)" });
  const spacer = html("div", { class: "duplexlab-seq-spacer", "aria-hidden": "true" });
  scroller.append(spacer);
  const detail = html("pre", { class: "duplexlab-seq-detail", tabindex: "0", role: "region",
                               "aria-label": "details of the chosen row" });
  detail.style.fontSize = font + "px";
  detail.style.height = `calc(6 * 1.3em + 8px)`;  // fixed: hovering never moves what is below
  detail.style.lineHeight = "1.3";
  const HINT = "hover over or click an arrow to see its bytes; or open the text view and use the arrow keys";
  detail.textContent = HINT;

  // -- the text view: one line per row, one tab stop; arrow keys move, the details show above --
  const textBox = html("div", { class: "duplexlab-seq-text", id: uid + "-text" });
  textBox.hidden = true;
  const listHelp = html("div", { id: uid + "-listhelp", class: "duplexlab-seq-listhelp" },
                        "One line per row of the diagram. Up and Down arrows move; the row's bytes show in the " +
                        "details above; Escape lets the diagram follow again.");
  listHelp.style.color = MUTED;
  const list = html("div", { role: "listbox", tabindex: "0", class: "duplexlab-seq-list", id: uid + "-list",
                             "aria-describedby": listHelp.id });
  list.style.maxHeight = `calc(12 * 1.45em)`;
  textBox.append(listHelp, list);

  box.append(bar, status, scroller, detail, textBox);
  // JupyterLab's notebook shortcuts match a focused element itself (":focus" in command mode): each control
  // says so, and keeps its keys (Enter, Space, the arrow keys, Escape)
  for (const control of box.querySelectorAll("select, input, button, [tabindex]"))
    control.setAttribute("data-lm-suppress-shortcuts", "true");
  root.append(box);

  // -- the events: history (synced state) merged with batches (custom messages) --
  const events = new Map();
  const seen = new Map();  // id → when this view first had it (how long an unanswered request has waited)
  let earlier = 0, skipped = 0, svg = null, header = null, frame = 0;
  let chosen = null;  // the id of the row chosen (a click, or the text view): its details stay, it stays in view
  let g = null, shown = [], lines = new Map(), lastBreak = null;
  const keep = () => model.get("keep") || 500;

  // the same rule as the kernel's (_Kept): pings and pongs keep to a fifth of the place, the oldest going
  // first, so a long run of them never pushes out the exchanges they sit between
  function trim() {
    if (events.size <= keep()) return;
    const ids = [...events.keys()].sort((a, b) => a - b);
    const controls = ids.filter((id) => isControl(events.get(id)));
    let over = events.size - keep();
    const share = Math.max(1, Math.floor(keep() / 5));
    for (const id of controls.slice(0, Math.max(0, Math.min(over, controls.length - share)))) {
      events.delete(id); seen.delete(id); over--;
    }
    for (const id of ids.filter((id) => events.has(id)).slice(0, over)) { events.delete(id); seen.delete(id); }
  }
  function fromHistory() {
    const history = model.get("history") || [];
    if (history.length) {
      const oldest = history.reduce((m, e) => Math.min(m, e.id), Infinity);
      const kept = new Set(history.map((e) => e.id));
      for (const id of [...events.keys()]) if (id < oldest && !kept.has(id)) events.delete(id);
    }
    for (const e of history) {
      const had = events.get(e.id);
      if (!had || (!had.done && e.done) || (had.bytes || 0) <= (e.bytes || 0)) events.set(e.id, e);
      if (!seen.has(e.id)) seen.set(e.id, performance.now());
    }
    earlier = Math.max(earlier, model.get("earlier") || 0);
    skipped = Math.max(skipped, model.get("skipped") || 0);
    trim();
    schedule();
  }
  function onMessage(msg) {
    if (!msg || msg.type !== "events") return;
    for (const e of msg.events) {
      events.set(e.id, e);
      if (!seen.has(e.id)) seen.set(e.id, performance.now());
    }
    earlier = Math.max(earlier, msg.earlier || 0);
    skipped = Math.max(skipped, msg.skipped || 0);
    trim();
    schedule();
  }
  model.on("change:history", fromHistory);
  model.on("msg:custom", onMessage);
  model.on("change:note", schedule);
  model.on("change:height", schedule);

  // at most ten redraws a second: the kernel sends up to 30 batches a second, the eye needs fewer
  let lastDraw = 0, timer = 0, soonTimer = 0;
  function schedule() {
    if (frame || timer) return;
    const wait = lastDraw + 100 - performance.now();
    const go = () => { timer = 0; frame = requestAnimationFrame(() => { frame = 0; lastDraw = performance.now(); draw(); }); };
    if (wait > 0) timer = setTimeout(go, wait); else go();
  }

  function visible(all) {
    const lane = lanePick.value;
    const lo = from.value === "" ? -Infinity : Number(from.value);
    const hi = to.value === "" ? Infinity : Number(to.value);
    return all.filter((e) => (lane === "" || e.lane === lane) && e.t >= lo && e.t <= hi &&
      Object.entries(GROUPS).some(([name, test]) => kinds[name].checked && test(e)));
  }

  function arrowColor(e) {
    return e.kind === "sse" ? COLORS.sse : e.kind === "swallowed" ? COLORS.lost : COLORS[e.dir];
  }

  function detailOf(e) {
    return lines.get(e.id) + (e.detail ? `\n${e.detail}` : "");
  }

  function highlight(id) {
    // a box around the chosen (or hovered) row: seen without colour
    if (!svg) return;
    svg.querySelector(".duplexlab-seq-current")?.remove();
    const y = g && g.rowY.get(id);
    if (y === undefined) return;
    svg.insertBefore(el("rect", { class: "duplexlab-seq-current", x: 2, y: y - Math.round(17 * geo.k),
                                  width: g.width - 4, height: geo.row + 2, fill: "none", stroke: INK,
                                  "stroke-width": 1.5, rx: 3 }), svg.querySelector("g.rows"));
  }

  function choose(id, { scroll = true } = {}) {
    // the text view's active row (or a clicked arrow): its details below the diagram, its row in view
    chosen = id;
    const e = events.get(id);
    if (!e) return;
    detail.textContent = detailOf(e);
    highlight(id);
    for (const option of list.children) option.setAttribute("aria-selected", String(option.dataset.id === String(id)));
    const option = list.querySelector(`[data-id="${id}"]`);
    if (option) {
      list.setAttribute("aria-activedescendant", option.id);
      if (!textBox.hidden) {  // into the list's view, without moving the notebook
        const top = option.offsetTop - list.offsetTop, bottom = top + option.offsetHeight;
        if (top < list.scrollTop) list.scrollTop = top;
        else if (bottom > list.scrollTop + list.clientHeight) list.scrollTop = bottom - list.clientHeight;
      }
    }
    const y = g && g.rowY.get(id);
    if (scroll && y !== undefined && scroller.clientHeight) {
      const band = y - Math.round(17 * geo.k);
      if (band - headerH < scroller.scrollTop || y + geo.row > scroller.scrollTop + scroller.clientHeight)
        autoScroll(Math.max(0, band - headerH - geo.row));
    }
    tellStatus();
  }

  function unchoose() {
    chosen = null;
    list.removeAttribute("aria-activedescendant");
    for (const option of list.querySelectorAll("[aria-selected=true]")) option.setAttribute("aria-selected", "false");
    svg?.querySelector(".duplexlab-seq-current")?.remove();
    detail.textContent = HINT;
    keepInView();
  }

  // -- what stays in view: the newest rows, or the last break and what follows it --
  let stuck = true;  // following the newest rows until the reader scrolls up (and again once back down)
  let leftBreak = null;  // the break the reader scrolled away from (pinned again when a newer one comes)
  let autoTop = -1, touched = 0;
  function autoScroll(top) {
    autoTop = top;
    scroller.scrollTop = top;
  }
  for (const kind of ["wheel", "pointerdown", "keydown", "touchstart"])  // a scroll that follows these is the reader's
    scroller.addEventListener(kind, () => { touched = performance.now(); }, { passive: true });
  scroller.addEventListener("scroll", () => {
    if (!scroller.clientHeight || performance.now() - touched > 1000) return;  // the layout's, or ours
    if (Math.abs(scroller.scrollTop - autoTop) <= 1) return;
    stuck = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 30;
    if (keepPick.value === "break" && lastBreak) leftBreak = lastBreak.id;
    tellStatus();
  });

  function boundary(y) {
    return y - Math.round(17 * geo.k);  // the top of a row's band (its label sits above its arrow)
  }

  function keepInView() {
    // a row is never cut by the names above it: the top of the view is always the top of a row
    if (!g || !svg) return;
    const height = scroller.clientHeight;
    if (!height) return;  // not laid out (off screen in JupyterLab's windowed notebook): again when it is
    const mode = keepPick.value;
    if (mode === "free" || chosen !== null) { spacer.style.height = "0px"; tellStatus(); return; }
    const max = Math.max(0, g.height - height);
    if (!max) { spacer.style.height = "0px"; autoScroll(0); tellStatus(); return; }  // it all fits
    let target;
    if (mode === "break" && lastBreak && leftBreak !== lastBreak.id) {
      const i = shown.indexOf(lastBreak);
      const context = shown[Math.max(0, i - 1)];  // the row before the break: what was cut
      target = Math.min(boundary(g.rowY.get(context.id)) - headerH, max);
    } else if (mode === "newest" || (mode === "break" && !lastBreak)) {
      if (!stuck) { tellStatus(); return; }
      target = max;
    } else { tellStatus(); return; }
    let top = target;
    for (const e of shown) {
      const b = boundary(g.rowY.get(e.id)) - headerH;
      if (b >= target - 0.5) { top = b; break; }
    }
    top = Math.max(0, top);
    spacer.style.height = Math.max(0, Math.ceil(top - max)) + "px";
    autoScroll(top);
    tellStatus();
  }

  function tellStatus() {
    const parts = [];
    if (chosen !== null) parts.push("a row is chosen: the view stays (Escape, or a click on it, lets it move again)");
    const folded = kinds.control.checked ? 0 : [...events.values()].filter(isControl).length;
    if (folded) parts.push(`ping/pong folded: ${folded} (tick ping/pong to show them)`);
    if (g && scroller.clientHeight) {
      const bottom = scroller.scrollTop + scroller.clientHeight;
      const below = shown.filter((e) => g.rowY.get(e.id) > bottom).length;
      if (keepPick.value === "break" && lastBreak && leftBreak !== lastBreak.id)
        parts.push(`kept in view: the last break, at ${when(lastBreak.t)}` +
                   (below ? `; ${plural(below, "newer row")} below ↓` : ""));
      else if (below) parts.push(`${plural(below, "row")} below ↓`);
    }
    const text = parts.join(" · ");
    if (status.textContent !== text) status.textContent = text;
  }

  // -- the text view: options made once per row and kept, so the active one survives redraws --
  const options = new Map();
  function fillList() {
    if (textBox.hidden) return;
    const wanted = shown.map((e) => {
      let option = options.get(e.id);
      if (!option) {
        option = html("div", { role: "option", id: `${uid}-row-${e.id}`, "aria-selected": "false" });
        option.dataset.id = e.id;
        options.set(e.id, option);
      }
      const line = lines.get(e.id);
      if (option.textContent !== line) option.textContent = line;
      option.setAttribute("aria-selected", String(e.id === chosen));
      return option;
    });
    const current = [...list.children];
    if (current.length !== wanted.length || current.some((o, i) => o !== wanted[i])) list.replaceChildren(...wanted);
    for (const id of [...options.keys()]) if (!events.has(id)) options.delete(id);
    list.setAttribute("aria-label", `the diagram as text: ${shown.length} rows, one per line`);
  }
  list.addEventListener("keydown", (event) => {
    const ids = shown.map((e) => e.id);
    if (!ids.length) return;
    const at = ids.indexOf(chosen);
    const page = Math.max(1, Math.floor(list.clientHeight / (font * 1.45)) - 1);
    const moves = { ArrowDown: at + 1, ArrowUp: at < 0 ? ids.length - 1 : at - 1, Home: 0, End: ids.length - 1,
                    PageDown: at + page, PageUp: at - page };
    if (!(event.key in moves)) return;
    event.preventDefault();
    choose(ids[Math.min(ids.length - 1, Math.max(0, moves[event.key]))]);
  });
  list.addEventListener("focus", () => {
    if (chosen !== null && shown.some((e) => e.id === chosen)) return;
    // start from the first row in the diagram's view
    const top = scroller.scrollTop + headerH;
    const first = shown.find((e) => g.rowY.get(e.id) >= top) || shown[shown.length - 1];
    if (first) choose(first.id);
  });
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) choose(Number(option.dataset.id));
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && chosen !== null) { event.preventDefault(); event.stopPropagation(); unchoose(); }
  });
  textButton.addEventListener("click", () => {
    textBox.hidden = !textBox.hidden;
    textButton.setAttribute("aria-expanded", String(!textBox.hidden));
    fillList();
  });

  function draw() {
    const all = [...events.values()].sort((a, b) => a.t - b.t || a.id - b.id);
    const lanes = [...new Set(all.map((e) => e.lane))];
    const picked = lanePick.value;
    const values = ["", ...lanes];
    if (lanePick.options.length !== values.length || values.some((l, i) => lanePick.options[i].value !== l))
      lanePick.replaceChildren(new Option("all connections", ""), ...lanes.map((l) => new Option(laneName(l), l)));
    lanePick.value = lanes.includes(picked) ? picked : "";
    shown = visible(all);
    lines = textLines(shown);
    lastBreak = [...shown].reverse().find((e) => BREAKS.has(e.kind)) || null;
    const arrows = all.filter((e) => ARROWS.has(e.kind)).length;
    const inView = shown.filter((e) => ARROWS.has(e.kind)).length;
    summary.textContent = `${arrows} arrows` + (inView < arrows ? ` (${inView} shown)` : "") +
      ` · ${lanes.length} connection(s)` +
      (earlier ? ` · ${earlier} earlier not kept` : "") + (skipped ? ` · ⚠ ${skipped} chunks not drawn (too fast)` : "") +
      (model.get("note") ? ` · ${model.get("note")}` : " · live");
    scroller.style.maxHeight = (model.get("height") || 440) + "px";

    g = layout(shown, earlier, geo);
    const { xLane, xTap, xServer, rowY } = g;
    const height = g.height, width = g.width;
    const byId = new Map(shown.map((e) => [e.id, e]));
    const k = geo.k;

    const names = el("svg", { xmlns: SVG, width, height: headerH, viewBox: `0 0 ${width} ${headerH}`,
                              class: "duplexlab-seq-names", "font-family": "sans-serif", "font-size": font,
                              "aria-hidden": "true" });
    names.append(el("rect", { x: 0, y: 0, width, height: headerH, fill: "white" }));
    names.append(el("text", { x: 4, y: font + 2, fill: MUTED }, LEGEND));
    // the rows: the part of the layout below the names (y from headerH on)
    const next = el("svg", { xmlns: SVG, width, height: height - headerH, viewBox: `0 ${headerH} ${width} ${height - headerH}`,
                             class: "duplexlab-seq-svg", "font-family": "sans-serif", "font-size": font, role: "img",
                             "aria-labelledby": uid + "-title", "aria-describedby": uid + "-desc" });
    const filtered = all.length - shown.length -
      (kinds.control.checked ? 0 : all.filter(isControl).length);
    next.append(el("title", { id: uid + "-title" },
                   model.get("title") ? `Sequence diagram of ${model.get("title")}` : "Sequence diagram"));
    next.append(el("desc", { id: uid + "-desc" },
                   describe(all, { earlier, skipped, pings: kinds.control.checked }) +
                   (filtered > 0 ? `; ${filtered} rows hidden by the filters` : "") +
                   "; the text view lists every row"));
    next.append(el("rect", { x: 0, y: 0, width, height, fill: "white" }));
    const defs = el("defs");
    for (const [name, color] of Object.entries(COLORS)) {
      const marker = el("marker", { id: `${uid}-head-${name}`, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color }));
      defs.append(marker);
    }
    next.append(defs);

    // lifelines: each connection (from its first row to its end; an ended one's column is reused), the
    // tap, the server; names above (a reused column names its connections in turn)
    const lifelines = [...g.lanes.map((l) => [xLane.get(l), "client", g.first.get(l) > geo.top + 2 * geo.row ?
                                              g.first.get(l) - 6 : 0, g.ends.get(l)]),
                       [xTap, "tap", 0, height], [xServer, "server", 0, height]];
    for (const [x, kind, top, bottom] of lifelines) {
      const y1 = top > 0 ? top : headerH;  // a connection's line starts with it
      next.append(el("line", { x1: x, y1, x2: x, y2: bottom, stroke: LIFELINE,
                               "stroke-dasharray": kind === "tap" ? "2 3" : "none", class: "lifeline" }));
    }
    for (const [x, name] of [...g.slots, [xTap, "tap"], [xServer, "server"]]) {
      names.append(el("text", { x, y: headerH - Math.round(6 * k), "text-anchor": "middle", "font-weight": "bold",
                                fill: INK, class: "lifeline-name" }, name));
    }
    for (const l of g.shared) {  // where a connection starts in a shared column, its name
      next.append(el("text", { x: xLane.get(l) + 4, y: g.first.get(l) - 9 * k, fill: MUTED, class: "lane-start" },
                     laneName(l)));
    }
    if (earlier) {
      next.append(el("text", { x: geo.left, y: geo.top + geo.row - 4, fill: MUTED, class: "earlier" },
                     `… ${earlier} earlier events not kept (the diagram keeps the last ${keep()})`));
    }
    for (const [y, dt] of g.gaps) {
      next.append(el("text", { x: geo.timeX, y, "text-anchor": "end", fill: MUTED, class: "gap" },
                     `⋮ ${dt.toFixed(2)} s`));
    }

    // requests still waiting for an answer (after 150 ms: a quick answer is on its way), then held
    // requests that were answered, and open streams: spans on the client's lifeline
    let soon = false;
    for (const e of unanswered(shown)) {
      const ended = g.ends.get(e.lane) < height;
      const waited = (performance.now() - (seen.get(e.id) || 0)) / 1000;
      if (waited < 0.15 && !ended) { soon = true; continue; }
      const x = xLane.get(e.lane), top = rowY.get(e.id), bottom = ended ? g.ends.get(e.lane) : height;
      next.append(el("rect", { x: x - 4, y: top, width: 8, height: Math.max(2, bottom - top), fill: style.held_fill,
                               "fill-opacity": 0.6, class: "span held open" }));
      next.append(el("text", { x: x - 8, y: top + 16 * k, "text-anchor": "end", fill: HELD_TEXT, class: "span-label" },
                     ended ? "no answer (the connection ended)" : "held, no answer yet"));
    }
    if (soon && !soonTimer) soonTimer = setTimeout(() => { soonTimer = 0; schedule(); }, 200);
    for (const e of shown) {
      if (e.kind !== "response") continue;
      const x = xLane.get(e.lane);
      const req = byId.get(e.req);
      if (req && e.t - req.t >= 0.1) {
        const top = rowY.get(req.id), bottom = rowY.get(e.id);
        next.append(el("rect", { x: x - 4, y: top, width: 8, height: bottom - top, fill: style.held_fill,
                                 class: "span held" }));
        next.append(el("text", { x: x - 8, y: (top + bottom) / 2 + 4, "text-anchor": "end", fill: HELD_TEXT,
                                 class: "span-label" }, `held ${(e.t - req.t).toFixed(2)} s`));
      }
      if (e.stream) {
        const inner = shown.filter((s) => s.in === e.id);
        const top = rowY.get(e.id);
        const last = inner.length ? rowY.get(inner[inner.length - 1].id) : top;
        const bottom = e.done ? last : height;
        next.append(el("rect", { x: x - 3, y: top, width: 6, height: Math.max(2, bottom - top), fill: style.stream_fill,
                                 class: "span stream" }));
      }
    }

    const rows = el("g", { class: "rows" });
    for (const e of shown) {
      const yy = rowY.get(e.id);
      const xc = xLane.get(e.lane);
      rows.append(el("text", { x: geo.timeX, y: yy + 4 * k, "text-anchor": "end", fill: MUTED, class: "time" },
                     when(e.t)));
      const row = el("g", { class: `${ARROWS.has(e.kind) ? "arrow" : "mark"} kind-${e.kind} dir-${e.dir || "none"}`,
                            "data-id": e.id, "data-label": e.label, "data-bytes": e.bytes, "data-lane": e.lane });
      row.append(el("title", {}, lines.get(e.id)));
      if (ARROWS.has(e.kind)) {
        const color = arrowColor(e);
        const [x1, x2] = e.dir === "up" ? [xc, xServer] : [xServer, xc];
        const end = e.kind === "swallowed" ? xTap : x2;
        const head = e.kind === "swallowed" ? "none" : `url(#${uid}-head-${e.kind === "sse" ? "sse" : e.dir})`;
        row.append(el("line", { x1, y1: yy, x2: end, y2: yy, stroke: "transparent", "stroke-width": 16 }));
        row.append(el("line", { x1, y1: yy, x2: end, y2: yy, stroke: color, "stroke-width": 1.6,
                                "stroke-dasharray": e.kind === "sse" ? "5 3" : e.done ? "none" : "2 2",
                                "marker-end": head }));
        if (e.kind === "swallowed") {
          row.append(el("text", { x: xTap, y: yy + 4 * k, "text-anchor": "middle", fill: COLORS.lost,
                                  "font-size": font + 2 }, "✕"));
        } else {
          row.append(el("circle", { cx: xTap, cy: yy, r: 2.5, fill: LIFELINE }));
        }
        row.append(el("text", { x: xTap + 10 * k, y: yy - 5 * k, fill: color, class: "label" },
                      drawnLabel(e, style.max_label)));
      } else {
        const color = e.kind === "end" ? COLORS.mark : COLORS.cut;
        const x = e.kind === "end" ? (e.dir === "up" ? xc : xServer) : xTap;
        row.append(el("path", { d: e.kind === "end" ? `M ${x - 6} ${yy} h 12` :
                                   `M ${x - 8} ${yy - 6} l 4 12 l 4 -12 l 4 12 l 4 -12`,
                                stroke: color, fill: "none", "stroke-width": 2 }));
        if (e.kind !== "end") {
          row.append(el("text", { x: xc, y: yy + 5 * k, "text-anchor": "middle", fill: color, "font-size": font + 2 },
                         "✕"));
        }
        row.append(el("text", { x: xTap + 16 * k, y: yy + 4 * k, fill: color, class: "label" }, e.label));
      }
      row.addEventListener("mouseenter", () => {
        if (chosen === null) { detail.textContent = detailOf(e); highlight(e.id); }
      });
      row.addEventListener("mouseleave", () => { if (chosen === null) highlight(null); });
      row.addEventListener("click", () => { if (chosen === e.id) unchoose(); else choose(e.id, { scroll: false }); });
      row.style.cursor = "pointer";
      rows.append(row);
    }
    next.append(rows);

    if (svg) svg.replaceWith(next); else scroller.insertBefore(next, spacer);
    if (header) header.replaceWith(names); else scroller.insertBefore(names, next);
    svg = next;
    header = names;
    if (chosen !== null) {
      if (events.has(chosen)) { highlight(chosen); if (shown.some((e) => e.id === chosen)) detail.textContent = detailOf(events.get(chosen)); }
      else unchoose();
    }
    fillList();
    keepInView();
  }

  for (const input of [lanePick, from, to, ...Object.values(kinds)]) input.addEventListener("change", draw);
  keepPick.addEventListener("change", () => { stuck = true; leftBreak = null; keepInView(); });
  // JupyterLab lays out a cell again when it comes back into view (its scroll position lost): again then
  const resized = new ResizeObserver(() => keepInView());
  resized.observe(scroller);
  const shownNow = new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) keepInView(); });
  shownNow.observe(scroller);

  save.onclick = () => {
    if (!svg) return;
    // one picture for a slide: the legend and the names above the rows, as on screen
    const top = Number(header.getAttribute("height")), w = Number(svg.getAttribute("width"));
    const h = top + Number(svg.getAttribute("height"));
    const whole = el("svg", { xmlns: SVG, width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
    whole.append(svg.querySelector("title").cloneNode(true), svg.querySelector("desc").cloneNode(true));
    whole.append(el("rect", { x: 0, y: 0, width: w, height: h, fill: "white" }));
    const names = header.cloneNode(true), rows = svg.cloneNode(true);
    names.setAttribute("x", 0); names.setAttribute("y", 0);
    rows.setAttribute("x", 0); rows.setAttribute("y", top);
    rows.querySelector(".duplexlab-seq-current")?.remove();
    whole.append(names, rows);
    const text = new XMLSerializer().serializeToString(whole);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    link.download = "sequence.svg";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };

  fromHistory();
  draw();
  return () => {
    model.off("change:history", fromHistory);
    model.off("msg:custom", onMessage);
    model.off("change:note", schedule);
    model.off("change:height", schedule);
    resized.disconnect();
    shownNow.disconnect();
    if (frame) cancelAnimationFrame(frame);
    if (timer) clearTimeout(timer);
    if (soonTimer) clearTimeout(soonTimer);
  };
}

export { describe, drawnLabel, gapPx, geometry, layout, textLines, when };
export default { render };
