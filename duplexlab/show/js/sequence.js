// A live sequence diagram of what a tap carries: one lifeline per connection (the clients),
// the tap, the server; one row per HTTP request, response, server-sent event or WebSocket frame.
// Events come from the kernel over the widget's comm: in batches as "msg:custom", and as the
// synced "history" (so a re-rendered view or a reloaded page draws at once, without asking the
// kernel). Plain SVG: no library, no network.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 26, TOP = 50, LEFT = 116, TIME_X = 70, LANE = 96, TAP_GAP = 70, SERVER_GAP = 340, RIGHT = 40;
const FONT = 12, MAX_LABEL = 48;
const LEGEND = "· N B = bytes on the wire · a frame's own length is its payload · hover or click an arrow for its bytes";
const COLORS = { up: "#0072B2", down: "#D55E00", sse: "#009E73", mark: "#555", cut: "#b00020", lost: "#b00020" };
const ARROWS = new Set(["request", "response", "sse", "frame", "data", "swallowed"]);
const GROUPS = {
  http: (e) => e.kind === "request" || e.kind === "response" || e.kind === "data",
  sse: (e) => e.kind === "sse",
  frames: (e) => e.kind === "frame" && !["PING", "PONG"].includes(e.opcode),
  control: (e) => e.kind === "frame" && ["PING", "PONG"].includes(e.opcode),
  breaks: (e) => !ARROWS.has(e.kind) || e.kind === "swallowed",
};

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// the same rules as duplexlab/show/widgets/sequence.py (when, gap_px, drawn_label, layout)
function when(t) {
  return t.toFixed(3) + " s";
}

function gapPx(dt) {
  return dt >= 0.05 ? Math.min(90, Math.round(45 * Math.sqrt(dt))) : 0;
}

function sizes(e) {
  if (e.kind === "frame") return `${e.bytes} bytes on the wire: ${e.head} frame header + ${e.body} payload`;
  if (e.kind === "sse") return `${e.bytes} bytes of the response's body`;
  if (e.kind === "request" || e.kind === "response")
    return `${e.bytes} bytes on the wire: ${e.head} header + ${e.body} body` + (e.done ? "" : " so far (still arriving)");
  if (e.bytes) return `${e.bytes} bytes`;
  return "";
}

function drawnLabel(e) {
  let label = e.label;
  if (e.kind === "response" && e.stream) label += ` · ${e.head} B, then a stream`;
  else if (["request", "response", "frame"].includes(e.kind)) label += ` · ${e.bytes} B`;
  if (e.hint) label += ` · ${e.hint}`;
  if (!e.done && (e.kind === "request" || e.kind === "response")) label += " …";
  return label.length <= MAX_LABEL ? label : label.slice(0, MAX_LABEL - 1) + "…";
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

function layout(shown, earlier) {
  const lanes = [...new Set(shown.map((e) => e.lane))];
  let y = TOP + ROW * (earlier ? 2 : 1), prev = null;
  const rowY = new Map(), gaps = [];
  for (const e of shown) {
    if (prev) {
      const extra = gapPx(e.t - prev.t);
      if (extra) gaps.push([y + extra / 2 + ROW / 2 - 4, e.t - prev.t]);
      y += ROW + extra;
    }
    rowY.set(e.id, y);
    prev = e;
  }
  const bottom = y + ROW;
  const first = new Map(), last = new Map(), closed = new Map();
  for (const e of shown) {
    if (!first.has(e.lane)) first.set(e.lane, rowY.get(e.id));
    last.set(e.lane, rowY.get(e.id));
    if (!closed.has(e.lane)) closed.set(e.lane, new Set());
    if (e.kind === "end") closed.get(e.lane).add(e.dir);
    if (e.kind === "cut") { closed.get(e.lane).add("up"); closed.get(e.lane).add("down"); }
    if (e.kind === "drop") closed.get(e.lane).add("down");  // the server's side is gone
  }
  const ends = new Map(lanes.map((l) => [l, closed.get(l).size === 2 ? last.get(l) : bottom]));
  // columns: a connection that has ended gives its column to the next one that starts after it
  const freeAfter = [], slotLanes = [], xLane = new Map(), shared = new Set();
  for (const l of lanes) {
    let slot = freeAfter.findIndex((end) => end < first.get(l));
    if (slot < 0) { slot = freeAfter.length; slotLanes.push([]); }
    freeAfter[slot] = ends.get(l) < bottom ? ends.get(l) : Infinity;
    slotLanes[slot].push(l);
    xLane.set(l, LEFT + LANE * (slot + 0.5));
  }
  for (const group of slotLanes) if (group.length > 1) for (const l of group) shared.add(l);
  const slots = slotLanes.map((group, i) => [LEFT + LANE * (i + 0.5), slotName(group)]);
  const xTap = LEFT + LANE * Math.max(1, slots.length) + TAP_GAP;
  const xServer = xTap + SERVER_GAP;
  return { lanes, slots, shared, xLane, xTap, xServer, rowY, gaps, height: bottom, width: xServer + RIGHT, first, ends };
}

function render({ model, el: root }) {
  const box = document.createElement("div");
  box.className = "duplexlab-seq";
  box.style.cssText = "font:13px sans-serif;max-width:100%;border:1px solid #ccc;border-radius:6px;padding:6px";
  const bar = document.createElement("div");
  bar.style.cssText = "display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center;margin-bottom:4px";
  const summary = document.createElement("span");
  summary.className = "duplexlab-seq-summary";
  summary.style.fontWeight = "bold";
  const lanePick = document.createElement("select");
  lanePick.className = "duplexlab-seq-lane";
  const kinds = {};
  const kindBox = document.createElement("span");
  for (const [name, label] of [["http", "HTTP"], ["sse", "SSE"], ["frames", "frames"], ["control", "ping/pong"],
                               ["breaks", "ends, cuts"]]) {
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.checked = true;
    tick.className = "duplexlab-seq-kind-" + name;
    kinds[name] = tick;
    const lab = document.createElement("label");
    lab.append(tick, " " + label + " ");
    kindBox.append(lab);
  }
  const range = document.createElement("span");
  const from = document.createElement("input");
  const to = document.createElement("input");
  for (const [input, hint] of [[from, "from s"], [to, "to s"]]) {
    input.type = "number";
    input.step = "0.1";
    input.placeholder = hint;
    input.style.width = "56px";
  }
  from.className = "duplexlab-seq-from";
  to.className = "duplexlab-seq-to";
  range.append("from ", from, " to ", to, " s");
  const follow = document.createElement("label");
  const followTick = document.createElement("input");
  followTick.type = "checkbox";
  followTick.checked = true;
  follow.append(followTick, " follow");
  const save = document.createElement("button");
  save.textContent = "SVG";
  save.title = "download this diagram as an SVG file (for slides)";
  save.className = "duplexlab-seq-save";
  bar.append(summary, lanePick, kindBox, range, follow, save);
  const scroller = document.createElement("div");
  scroller.className = "duplexlab-seq-scroll";
  scroller.style.cssText = "max-height:440px;overflow:auto;border-top:1px solid #eee";
  model.on("change:height", schedule);
  let stuck = true;  // following the newest rows until the reader scrolls up (and again once back down)
  scroller.addEventListener("scroll", () => {
    stuck = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 30;
  });
  const detail = document.createElement("pre");
  detail.className = "duplexlab-seq-detail";
  detail.style.cssText = "min-height:2.5em;max-height:140px;overflow:auto;margin:4px 0 0;padding:4px;" +
    "background:#f6f6f6;white-space:pre-wrap;font:12px monospace";
  detail.textContent = "hover over or click an arrow to see its bytes";
  box.append(bar, scroller, detail);
  root.append(box);

  // -- the events: history (synced state) merged with batches (custom messages) --
  const events = new Map();
  const seen = new Map();  // id → when this view first had it (how long an unanswered request has waited)
  let earlier = 0, skipped = 0, svg = null, header = null, pinned = null, frame = 0;
  const keep = () => model.get("keep") || 500;

  function trim() {
    if (events.size <= keep()) return;
    const ids = [...events.keys()].sort((a, b) => a - b);
    for (const id of ids.slice(0, ids.length - keep())) { events.delete(id); seen.delete(id); }
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

  function draw() {
    const all = [...events.values()].sort((a, b) => a.t - b.t || a.id - b.id);
    const lanes = [...new Set(all.map((e) => e.lane))];
    const chosen = lanePick.value;
    lanePick.replaceChildren(new Option("all connections", ""), ...lanes.map((l) => new Option(laneName(l), l)));
    lanePick.value = lanes.includes(chosen) ? chosen : "";
    const shown = visible(all);
    const arrows = all.filter((e) => ARROWS.has(e.kind)).length;
    const inView = shown.filter((e) => ARROWS.has(e.kind)).length;
    summary.textContent = `${arrows} arrows` + (inView < arrows ? ` (${inView} shown)` : "") +
      ` · ${lanes.length} connection(s)` +
      (earlier ? ` · ${earlier} earlier not kept` : "") + (skipped ? ` · ⚠ ${skipped} chunks not drawn (too fast)` : "") +
      (model.get("note") ? ` · ${model.get("note")}` : " · live");
    scroller.style.maxHeight = (model.get("height") || 440) + "px";

    const g = layout(shown, earlier);
    const { xLane, xTap, xServer, rowY } = g;
    const height = g.height, width = g.width;
    const byId = new Map(shown.map((e) => [e.id, e]));

    // the names stay on top while the rows scroll under them
    const names = el("svg", { xmlns: SVG, width, height: TOP - 6, class: "duplexlab-seq-names",
                              "font-family": "sans-serif", "font-size": FONT });
    names.append(el("text", { x: 4, y: 12, fill: "#777", "font-size": 11 }, LEGEND));
    const next = el("svg", { xmlns: SVG, width, height, viewBox: `0 0 ${width} ${height}`, class: "duplexlab-seq-svg",
                             "font-family": "sans-serif", "font-size": FONT });
    next.append(el("rect", { x: 0, y: 0, width, height, fill: "white" }));
    const defs = el("defs");
    for (const [name, color] of Object.entries(COLORS)) {
      const marker = el("marker", { id: "dl-head-" + name, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color }));
      defs.append(marker);
    }
    next.append(defs);

    // lifelines: each connection (from its first row to its end; an ended one's column is reused), the
    // tap, the server; names above (a reused column names its connections in turn)
    const lifelines = [...g.lanes.map((l) => [xLane.get(l), "client", g.first.get(l) > TOP + 2 * ROW ?
                                              g.first.get(l) - 6 : 0, g.ends.get(l)]),
                       [xTap, "tap", 0, height], [xServer, "server", 0, height]];
    for (const [x, kind, top, bottom] of lifelines) {
      const y1 = top > 0 ? top : kind === "client" ? TOP - 8 : 0;  // a connection's line starts with it
      next.append(el("line", { x1: x, y1, x2: x, y2: bottom,
                               stroke: kind === "tap" ? "#999" : "#bbb",
                               "stroke-dasharray": kind === "tap" ? "2 3" : "none", class: "lifeline" }));
    }
    for (const [x, name] of [...g.slots, [xTap, "tap"], [xServer, "server"]]) {
      names.append(el("text", { x, y: TOP - 12, "text-anchor": "middle", "font-weight": "bold",
                                class: "lifeline-name" }, name));
    }
    for (const l of g.shared) {  // where a connection starts in a shared column, its name
      next.append(el("text", { x: xLane.get(l) + 4, y: g.first.get(l) - 9, fill: "#555", "font-size": 10,
                               class: "lane-start" }, laneName(l)));
    }
    if (earlier) {
      next.append(el("text", { x: LEFT, y: TOP + ROW - 4, fill: "#777", class: "earlier" },
                     `… ${earlier} earlier events not kept (the diagram keeps the last ${keep()})`));
    }
    for (const [y, dt] of g.gaps) {
      next.append(el("text", { x: TIME_X, y, "text-anchor": "end", fill: "#999", class: "gap" },
                     `⋮ ${dt.toFixed(2)} s`));
    }

    // requests still waiting for an answer (after 150 ms: a quick answer is on its way), then held
    // requests that were answered, and open streams: spans on the client's lifeline
    const answered = new Set(shown.filter((e) => e.kind === "response").map((e) => e.req));
    let soon = false;
    for (const e of shown) {
      if (e.kind !== "request" || !e.done || e.lost || answered.has(e.id)) continue;
      const ended = g.ends.get(e.lane) < height;
      const waited = (performance.now() - (seen.get(e.id) || 0)) / 1000;
      if (waited < 0.15 && !ended) { soon = true; continue; }
      const x = xLane.get(e.lane), top = rowY.get(e.id), bottom = ended ? g.ends.get(e.lane) : height;
      next.append(el("rect", { x: x - 4, y: top, width: 8, height: Math.max(2, bottom - top), fill: "#f0c27b",
                               "fill-opacity": 0.6, class: "span held open" }));
      next.append(el("text", { x: x - 8, y: top + 16, "text-anchor": "end", fill: "#8a5a00", class: "span-label" },
                     ended ? "no answer (the connection ended)" : "held, no answer yet"));
    }
    if (soon && !soonTimer) soonTimer = setTimeout(() => { soonTimer = 0; schedule(); }, 200);
    for (const e of shown) {
      if (e.kind !== "response") continue;
      const x = xLane.get(e.lane);
      const req = byId.get(e.req);
      if (req && e.t - req.t >= 0.1) {
        const top = rowY.get(req.id), bottom = rowY.get(e.id);
        next.append(el("rect", { x: x - 4, y: top, width: 8, height: bottom - top, fill: "#f0c27b",
                                 class: "span held" }));
        next.append(el("text", { x: x - 8, y: (top + bottom) / 2 + 4, "text-anchor": "end", fill: "#8a5a00",
                                 class: "span-label" }, `held ${(e.t - req.t).toFixed(2)} s`));
      }
      if (e.stream) {
        const inner = shown.filter((s) => s.in === e.id);
        const top = rowY.get(e.id);
        const last = inner.length ? rowY.get(inner[inner.length - 1].id) : top;
        const bottom = e.done ? last : height;
        next.append(el("rect", { x: x - 3, y: top, width: 6, height: Math.max(2, bottom - top), fill: "#9fd8c3",
                                 class: "span stream" }));
      }
    }

    for (const e of shown) {
      const yy = rowY.get(e.id);
      const xc = xLane.get(e.lane);
      next.append(el("text", { x: TIME_X, y: yy + 4, "text-anchor": "end", fill: "#777", class: "time" },
                     when(e.t)));
      const g = el("g", { class: `${ARROWS.has(e.kind) ? "arrow" : "mark"} kind-${e.kind} dir-${e.dir || "none"}`,
                          "data-id": e.id, "data-label": e.label, "data-bytes": e.bytes, "data-lane": e.lane });
      const sz = sizes(e);
      g.append(el("title", {}, `${e.label}` + (sz ? `\n${sz}` : "")));
      if (ARROWS.has(e.kind)) {
        const color = arrowColor(e);
        const [x1, x2] = e.dir === "up" ? [xc, xServer] : [xServer, xc];
        const end = e.kind === "swallowed" ? xTap : x2;
        const head = e.kind === "swallowed" ? "none" : `url(#dl-head-${e.kind === "sse" ? "sse" : e.dir})`;
        g.append(el("line", { x1, y1: yy, x2: end, y2: yy, stroke: "transparent", "stroke-width": 16 }));
        g.append(el("line", { x1, y1: yy, x2: end, y2: yy, stroke: color, "stroke-width": 1.6,
                              "stroke-dasharray": e.kind === "sse" ? "5 3" : e.done ? "none" : "2 2",
                              "marker-end": head }));
        if (e.kind === "swallowed") {
          g.append(el("text", { x: xTap, y: yy + 4, "text-anchor": "middle", fill: COLORS.lost, "font-size": 14 }, "✕"));
        } else {
          g.append(el("circle", { cx: xTap, cy: yy, r: 2.5, fill: "#999" }));
        }
        g.append(el("text", { x: xTap + 10, y: yy - 5, fill: color, class: "label" }, drawnLabel(e)));
      } else {
        const color = e.kind === "end" ? COLORS.mark : COLORS.cut;
        const x = e.kind === "end" ? (e.dir === "up" ? xc : xServer) : xTap;
        g.append(el("path", { d: e.kind === "end" ? `M ${x - 6} ${yy} h 12` :
                                   `M ${x - 8} ${yy - 6} l 4 12 l 4 -12 l 4 12 l 4 -12`,
                              stroke: color, fill: "none", "stroke-width": 2 }));
        if (e.kind !== "end") {
          g.append(el("text", { x: xc, y: yy + 5, "text-anchor": "middle", fill: color, "font-size": 14 }, "✕"));
        }
        g.append(el("text", { x: xTap + 16, y: yy + 4, fill: color, class: "label" }, e.label));
      }
      const tell = () => {
        detail.textContent = `${e.label}  (${laneName(e.lane)}, at ${when(e.t)})` + (sz ? `\n${sz}` : "") +
          (e.detail ? `\n${e.detail}` : "");
      };
      g.addEventListener("mouseenter", () => { if (pinned === null) tell(); });
      g.addEventListener("click", () => { pinned = pinned === e.id ? null : e.id; tell(); });
      g.style.cursor = "pointer";
      next.append(g);
    }

    if (svg) svg.replaceWith(next); else scroller.append(next);
    if (header) header.replaceWith(names); else scroller.before(names);
    svg = next;
    header = names;
    if (followTick.checked && stuck) scroller.scrollTop = scroller.scrollHeight;
  }

  for (const input of [lanePick, from, to, ...Object.values(kinds)]) input.addEventListener("change", draw);
  save.onclick = () => {
    if (!svg) return;
    // one picture for a slide: the legend and the names above the rows, as on screen
    const top = Number(header.getAttribute("height")), w = Number(svg.getAttribute("width"));
    const h = top + Number(svg.getAttribute("height"));
    const whole = el("svg", { xmlns: SVG, width: w, height: h, viewBox: `0 0 ${w} ${h}` });
    whole.append(el("rect", { x: 0, y: 0, width: w, height: h, fill: "white" }));
    const names = header.cloneNode(true), rows = svg.cloneNode(true);
    names.setAttribute("x", 0); names.setAttribute("y", 0);
    rows.setAttribute("x", 0); rows.setAttribute("y", top);
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
    if (frame) cancelAnimationFrame(frame);
    if (timer) clearTimeout(timer);
    if (soonTimer) clearTimeout(soonTimer);
  };
}
export default { render };
