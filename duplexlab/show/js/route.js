// The way from this page to the lab. The lab listens on the kernel's machine, on 127.0.0.1.
// Three ways, tried in turn; the first that opens is kept:
//   direct  the browser runs on the kernel's machine: a WebSocket straight to the lab's port;
//   proxy   a JupyterHub or Binder: the notebook server's jupyter-server-proxy forwards
//           <base_url>/proxy/<port>/… to the lab (the kernel's machine, seen from the server);
//   bridge  neither (VS Code, Colab, a hub without the proxy): the browser's messages travel
//           over the widget's comm, and the kernel holds the real WebSocket. Comm messages from
//           the browser reach the kernel only while no cell runs, so this way opens when the
//           notebook is idle.
// Every WebSocket offers the one-use ticket the kernel put in the widget's state (as a
// subprotocol, never in the URL): that lets it in, whichever way it came.

const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];

// JupyterLab and Notebook 7 write their settings into the page, base URL included
// ("/user/alice/" on a hub); VS Code and Colab pages have none.
function notebookServer() {
  const data = document.getElementById("jupyter-config-data");
  if (!data) return null;
  try {
    const base = JSON.parse(data.textContent).baseUrl;
    return base ? new URL(base, location.href) : null;
  } catch (e) {
    return null;
  }
}

// The ways worth trying from this page, in order, among those the widget allows.
function waysToLab(model) {
  const lab = new URL(model.get("url"));
  const allowed = model.get("routes");
  const server = notebookServer();
  const labOnLoopback = LOOPBACK.includes(lab.hostname);
  // A page from a notebook server on another machine (a hub) can't be on the kernel's
  // machine: its 127.0.0.1 is the student's laptop, so don't knock there.
  const remotePage = server !== null && !LOOPBACK.includes(location.hostname);
  const ways = [];
  if (allowed.includes("direct") && !(remotePage && labOnLoopback)) {
    ways.push({ kind: "direct", url: lab.href });
  }
  if (allowed.includes("proxy") && server !== null && labOnLoopback) {
    const proxied = new URL(server.pathname.replace(/\/?$/, "/") + "proxy/" + lab.port + lab.pathname + lab.search, server);
    proxied.protocol = server.protocol === "https:" ? "wss:" : "ws:";
    ways.push({ kind: "proxy", url: proxied.href });
  }
  if (allowed.includes("bridge")) ways.push({ kind: "bridge" });
  return ways;
}

// One WebSocket attempt: resolves to { ws } once open, or { why } if it can't be.
function knock(url, ticket, ms, via) {
  return new Promise((resolve) => {
    let ws;
    try {
      // "duplexlab.via.proxy" only labels the way (a proxy may keep a loopback Host); the ticket admits.
      ws = new WebSocket(url, ["duplexlab", "duplexlab.ticket." + ticket, ...(via ? ["duplexlab.via." + via] : [])]);
    } catch (e) {
      resolve({ why: "not allowed from this page (" + e.message + ")" });
      return;
    }
    const timer = setTimeout(() => { ws.close(); resolve({ why: "no answer within " + ms / 1000 + " s" }); }, ms);
    ws.onopen = () => {
      clearTimeout(timer);
      if (ws.protocol !== "duplexlab") {  // something else listens there, not the lab
        ws.close();
        resolve({ why: "something other than the lab answered" });
      } else {
        resolve({ ws });
      }
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      resolve({ why: event.code === 1006 ? "unreachable (or refused)" : "refused (" + event.code + " " + event.reason + ")" });
    };
  });
}

// The kernel's end of a bridge (duplexlab/show/widgets/bridge.py) answers with the same view id.
function bridgeLine(model, on) {
  const view = Math.random().toString(36).slice(2, 12);
  let open = false;
  const heard = (msg) => {
    if (!msg || msg.view !== view) return;
    if (msg.op === "open") { open = true; on.open(); }
    else if (msg.op === "message") on.message(msg.data);
    else if (msg.op === "close") { open = false; model.off("msg:custom", heard); on.close(msg.code, msg.reason); }
  };
  model.on("msg:custom", heard);
  model.send({ op: "open", view });
  return {
    // Only once the kernel's socket is open: before, the text stays in the input box.
    send: (text) => { if (!open) return false; model.send({ op: "send", view, data: text }); return true; },
    close: (code, reason) => { model.send({ op: "close", view, code, reason }); model.off("msg:custom", heard); },
  };
}

// Open a line to the lab the first way that works. `on` gets trying(way), open(way),
// message(text), close(code, reason) and nowhere(tried). Returns { send, close, way }.
function openLine(model, on, { directMs = 2000, proxyMs = 4000 } = {}) {
  const line = { way: null, send: () => false, close: () => {} };
  let closing = null;  // [code, reason] once closed by the page, even before a way opened
  line.close = (code, reason) => { closing = [code, reason]; };
  const tried = [];
  (async () => {
    for (const way of waysToLab(model)) {
      if (closing) return;
      on.trying(way, tried);
      if (way.kind === "bridge") {
        const bridge = bridgeLine(model, {
          open: () => on.open(way),
          message: (text) => on.message(text),
          close: (code, reason) => on.close(code, reason),
        });
        line.way = way;
        line.send = (text) => bridge.send(text);
        line.close = (code, reason) => bridge.close(code, reason);
        if (closing) bridge.close(...closing);
        return;
      }
      const { ws, why } = await knock(way.url, model.get("ticket"), way.kind === "direct" ? directMs : proxyMs, way.kind);
      if (!ws) { tried.push(way.kind + ": " + why); continue; }
      line.way = way;
      ws.onmessage = (event) => on.message(event.data);
      ws.onclose = (event) => on.close(event.code, event.reason);
      line.send = (text) => { if (ws.readyState !== WebSocket.OPEN) return false; ws.send(text); return true; };
      line.close = (code, reason) => {
        // jupyter-server-proxy drops close codes: say the code in a last message, the lab closes with it.
        if (way.kind === "proxy" && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "close", code, reason }));
        ws.close(code, reason);
      };
      if (closing) { line.close(...closing); return; }
      on.open(way);
      return;
    }
    if (!closing) on.nowhere(tried);
  })();
  return line;
}

// How each way reads in a widget's status line.
const WAY_NAMES = {
  direct: "straight to the lab",
  proxy: "through the notebook server's proxy",
  bridge: "over the widget's comm (the kernel holds the WebSocket)",
};
