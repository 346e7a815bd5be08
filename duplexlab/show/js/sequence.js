// A live sequence diagram of what a tap carries: one lifeline per connection (the clients),
// the tap, the server; one row per HTTP request, response, server-sent event or WebSocket frame.
// Events come from the kernel over the widget's comm: in batches as "msg:custom", and as the
// synced "history" (so a re-rendered view or a reloaded page draws at once, without asking the
// kernel). Plain SVG: no library, no network.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 24, TOP = 46, LEFT = 110, TIME_X = 62, LANE = 92, TAP_GAP = 70, SERVER_GAP = 330, RIGHT = 90;
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

function when(t) {
  return t < 1 ? (t * 1000).toFixed(1) + " ms" : t.toFixed(3) + " s";
}

function sizes(e) {
  if (e.kind === "frame") return `${e.bytes} bytes: ${e.head} frame header + ${e.body} payload`;
  if (e.kind === "sse") return `${e.bytes} bytes of the response's body`;
  if (e.kind === "request" || e.kind === "response")
    return `${e.bytes} bytes: ${e.head} header + ${e.body} body` + (e.done ? "" : " so far (still arriving)");
  if (e.bytes) return `${e.bytes} bytes`;
  return "";
}

function render({ model, el: root }) {
  const box = document.createElement("div");
  box.className = "duplexlab-seq";
  box.style.cssText = "font:12px sans-serif;max-width:100%;border:1px solid #ccc;border-radius:6px;padding:6px";
  const bar = document.createElement("div");
  bar.style.cssText = "display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin-bottom:4px";
  const summary = document.createElement("span");
  summary.className = "duplexlab-seq-summary";
  summary.style.fontWeight = "bold";
  const lanePick = document.createElement("select");
  lanePick.className = "duplexlab-seq-lane";
  const kinds = {};
  const kindBox = document.createElement("span");
  for (const [name, label] of [["http", "HTTP"], ["sse", "SSE"], ["frames", "frames"], ["control", "ping/pong"],
                               ["breaks", "ends & breaks"]]) {
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
    input.style.width = "70px";
  }
  from.className = "duplexlab-seq-from";
  to.className = "duplexlab-seq-to";
  range.append("window ", from, " – ", to, " s");
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
  const detail = document.createElement("pre");
  detail.className = "duplexlab-seq-detail";
  detail.style.cssText = "min-height:2.5em;max-height:200px;overflow:auto;margin:4px 0 0;padding:4px;" +
    "background:#f6f6f6;white-space:pre-wrap;font:11px monospace";
  detail.textContent = "hover over or click an arrow to see its bytes";
  box.append(bar, scroller, detail);
  root.append(box);

  // -- the events: history (synced state) merged with batches (custom messages) --
  const events = new Map();
  let earlier = 0, skipped = 0, svg = null, pinned = null, frame = 0;
  const keep = () => model.get("keep") || 500;

  function trim() {
    if (events.size <= keep()) return;
    const ids = [...events.keys()].sort((a, b) => a - b);
    for (const id of ids.slice(0, ids.length - keep())) events.delete(id);
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
    }
    earlier = Math.max(earlier, model.get("earlier") || 0);
    skipped = Math.max(skipped, model.get("skipped") || 0);
    trim();
    schedule();
  }
  function onMessage(msg) {
    if (!msg || msg.type !== "events") return;
    for (const e of msg.events) events.set(e.id, e);
    earlier = Math.max(earlier, msg.earlier || 0);
    skipped = Math.max(skipped, msg.skipped || 0);
    trim();
    schedule();
  }
  model.on("change:history", fromHistory);
  model.on("msg:custom", onMessage);
  model.on("change:note", schedule);

  // at most ten redraws a second: the kernel sends up to 30 batches a second, the eye needs fewer
  let lastDraw = 0, timer = 0;
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

  function laneName(lane) {
    const [tap, conn] = lane.split(".");
    return conn === undefined ? "conn " + lane : `tap ${tap} · conn ${conn}`;
  }

  function draw() {
    const all = [...events.values()].sort((a, b) => a.t - b.t || a.id - b.id);
    const lanes = [...new Set(all.map((e) => e.lane))];
    const chosen = lanePick.value;
    lanePick.replaceChildren(new Option("all connections", ""), ...lanes.map((l) => new Option(laneName(l), l)));
    lanePick.value = lanes.includes(chosen) ? chosen : "";
    const shown = visible(all);
    const arrows = all.filter((e) => ARROWS.has(e.kind)).length;
    summary.textContent = `${arrows} arrows · ${lanes.length} connection(s)` +
      (earlier ? ` · ${earlier} earlier not kept` : "") + (skipped ? ` · ⚠ ${skipped} chunks not drawn (too fast)` : "") +
      (model.get("note") ? ` · ${model.get("note")}` : " · live");

    const shownLanes = [...new Set(shown.map((e) => e.lane))];
    const xLane = new Map(shownLanes.map((l, i) => [l, LEFT + LANE * (i + 0.5)]));
    const xTap = LEFT + LANE * Math.max(1, shownLanes.length) + TAP_GAP;
    const xServer = xTap + SERVER_GAP;
    const offset = earlier ? 1 : 0;
    const rowOf = new Map(shown.map((e, i) => [e.id, i + offset]));
    const y = (row) => TOP + ROW * (row + 1);
    const height = y(shown.length + offset) + ROW / 2;
    const width = xServer + RIGHT;

    const next = el("svg", { xmlns: SVG, width, height, viewBox: `0 0 ${width} ${height}`, class: "duplexlab-seq-svg",
                             "font-family": "sans-serif", "font-size": "11" });
    next.append(el("rect", { x: 0, y: 0, width, height, fill: "white" }));
    const defs = el("defs");
    for (const [name, color] of Object.entries(COLORS)) {
      const marker = el("marker", { id: "dl-head-" + name, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color }));
      defs.append(marker);
    }
    next.append(defs);

    // lifelines: each connection, the tap, the server
    const lifelines = [...shownLanes.map((l) => [xLane.get(l), laneName(l), "client"]), [xTap, "tap", "tap"],
                       [xServer, "server", "server"]];
    for (const [x, name, kind] of lifelines) {
      next.append(el("line", { x1: x, y1: TOP - 8, x2: x, y2: height, stroke: kind === "tap" ? "#999" : "#bbb",
                               "stroke-dasharray": kind === "tap" ? "2 3" : "none", class: "lifeline" }));
      next.append(el("text", { x, y: TOP - 14, "text-anchor": "middle", "font-weight": "bold",
                               class: "lifeline-name" }, name));
    }
    if (earlier) {
      next.append(el("text", { x: LEFT, y: y(0) - 4, fill: "#777", class: "earlier" },
                     `… ${earlier} earlier events not kept (the diagram keeps the last ${keep()})`));
    }

    // held requests and open streams: spans on the client's lifeline
    for (const e of shown) {
      if (e.kind !== "response") continue;
      const x = xLane.get(e.lane);
      const req = events.get(e.req);
      if (req && rowOf.has(req.id) && e.t - req.t >= 0.1) {
        const top = y(rowOf.get(req.id)), bottom = y(rowOf.get(e.id));
        next.append(el("rect", { x: x - 4, y: top, width: 8, height: bottom - top, fill: "#f0c27b",
                                 class: "span held" }));
        next.append(el("text", { x: x - 8, y: (top + bottom) / 2 + 4, "text-anchor": "end", fill: "#8a5a00",
                                 class: "span-label" }, "held " + when(e.t - req.t)));
      }
      if (e.stream) {
        const inner = shown.filter((s) => s.in === e.id);
        const last = inner.length ? y(rowOf.get(inner[inner.length - 1].id)) : y(rowOf.get(e.id));
        const bottom = e.done ? last : height;
        const top = y(rowOf.get(e.id));
        next.append(el("rect", { x: x - 3, y: top, width: 6, height: Math.max(2, bottom - top), fill: "#9fd8c3",
                                 class: "span stream" }));
      }
    }

    for (const e of shown) {
      const row = rowOf.get(e.id);
      const yy = y(row);
      const xc = xLane.get(e.lane);
      next.append(el("text", { x: TIME_X, y: yy + 4, "text-anchor": "end", fill: "#777", class: "time" },
                     when(e.t)));
      const g = el("g", { class: `${ARROWS.has(e.kind) ? "arrow" : "mark"} kind-${e.kind} dir-${e.dir || "none"}`,
                          "data-id": e.id, "data-label": e.label, "data-bytes": e.bytes, "data-lane": e.lane });
      const title = el("title", {}, `${e.label}\n${sizes(e)}`);
      g.append(title);
      if (ARROWS.has(e.kind)) {
        const color = e.kind === "sse" ? COLORS.sse : e.kind === "swallowed" ? COLORS.lost : COLORS[e.dir];
        const [x1, x2] = e.dir === "up" ? [xc, xServer] : [xServer, xc];
        const end = e.kind === "swallowed" ? xTap : x2;
        g.append(el("line", { x1, y1: yy, x2: end, y2: yy, stroke: "transparent", "stroke-width": 14 }));
        g.append(el("line", { x1, y1: yy, x2: end, y2: yy, stroke: color, "stroke-width": 1.6,
                              "stroke-dasharray": e.kind === "sse" ? "5 3" : e.done ? "none" : "2 2",
                              "marker-end": e.kind === "swallowed" ? "none" : `url(#dl-head-${e.kind === "sse" ? "sse" : e.dir})` }));
        if (e.kind === "swallowed") {
          g.append(el("text", { x: xTap, y: yy + 4, "text-anchor": "middle", fill: COLORS.lost, "font-size": 14 }, "✕"));
        } else {
          g.append(el("circle", { cx: xTap, cy: yy, r: 2.5, fill: "#999" }));
        }
        const size = e.kind === "request" || e.kind === "response" ? ` · ${e.bytes} B` : "";
        g.append(el("text", { x: xTap + 10, y: yy - 4, fill: color, class: "label" },
                    e.label + size + (e.done ? "" : " …")));
      } else {
        const color = e.kind === "end" ? COLORS.mark : COLORS.cut;
        const x = e.kind === "end" ? (e.dir === "up" ? xc : xServer) : xTap;
        g.append(el("path", { d: e.kind === "end" ? `M ${x - 6} ${yy} h 12` :
                                   `M ${x - 8} ${yy - 6} l 4 12 l 4 -12 l 4 12 l 4 -12`,
                              stroke: color, fill: "none", "stroke-width": 2 }));
        g.append(el("text", { x: xTap + 10, y: yy + 4, fill: color, class: "label" }, e.label));
      }
      const tell = () => {
        const sz = sizes(e);
        detail.textContent = `${e.label}  (conn ${e.lane}, at ${when(e.t)})` + (sz ? `\n${sz}` : "") +
          (e.detail ? `\n${e.detail}` : "");
      };
      g.addEventListener("mouseenter", () => { if (pinned === null) tell(); });
      g.addEventListener("click", () => { pinned = pinned === e.id ? null : e.id; tell(); });
      g.style.cursor = "pointer";
      next.append(g);
    }

    const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 30;
    if (svg) svg.replaceWith(next); else scroller.append(next);
    svg = next;
    if (followTick.checked && atBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  for (const input of [lanePick, from, to, ...Object.values(kinds)]) input.addEventListener("change", draw);
  save.onclick = () => {
    if (!svg) return;
    const text = new XMLSerializer().serializeToString(svg);
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
    if (frame) cancelAnimationFrame(frame);
    if (timer) clearTimeout(timer);
  };
}
export default { render };
