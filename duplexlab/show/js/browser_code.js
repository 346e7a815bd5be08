// dl.show.BrowserCode: a short JavaScript snippet, run in the student's own page against the lab.
// The snippet runs in the lab's runner page (duplexlab/runtime/runner.js), loaded in an invisible
// frame: straight from the lab (or the tap in front of it), or through the notebook server's
// proxy on a hub. The frame is unlocked with the one-use ticket in this widget's state, then
// gets the code by postMessage. route.js (above) gives notebookServer() and LOOPBACK.

const RUNNER = "/_duplexlab/runner";

// Where the runner can be loaded from this page, in order: [{ kind, page, lab, ws }].
function runnerWays(model) {
  const lab = new URL(model.get("lab_url"));
  const ws = new URL(model.get("ws_base"));
  const ways = [];
  const server = notebookServer();
  const remotePage = server !== null && !LOOPBACK.includes(location.hostname);
  if (!remotePage) {
    // The page's own loopback name, so the runner is on the same site and its cookie is sent.
    const name = LOOPBACK.includes(location.hostname) && LOOPBACK.includes(lab.hostname) ? location.hostname : lab.hostname;
    const base = lab.protocol + "//" + name + ":" + lab.port;
    ways.push({ kind: "direct", page: base + RUNNER, lab: base, ws: "ws://" + name + ":" + ws.port });
  }
  if (server !== null && model.get("routes").includes("proxy")) {
    const prefix = server.origin + server.pathname.replace(/\/?$/, "/") + "proxy/";
    const wsPrefix = prefix.replace(/^http/, "ws");
    ways.push({ kind: "proxy", page: prefix + lab.port + RUNNER, lab: prefix + lab.port, ws: wsPrefix + ws.port });
  }
  return ways;
}

// One frame, kept in <body> (JupyterLab takes off-screen cells out of the page; the frame must live on).
function makeFrame() {
  const frame = document.createElement("iframe");
  frame.title = "duplexlab browser code runner";
  frame.setAttribute("aria-hidden", "true");
  frame.tabIndex = -1;
  frame.style.cssText = "position:fixed;left:0;bottom:0;width:1px;height:1px;border:0;opacity:0.01;pointer-events:none";
  document.body.append(frame);
  return frame;
}

// Load the runner the first way that answers: resolves to the way, or null with why each failed.
async function findRunner(frame, ways, tried) {
  for (const way of ways) {
    const ready = await new Promise((resolve) => {
      const timer = setTimeout(() => { removeEventListener("message", heard); resolve(false); },
        way.kind === "direct" ? 2500 : 5000);
      const heard = (event) => {
        if (event.source !== frame.contentWindow || !event.data || event.data.op !== "ready") return;
        clearTimeout(timer);
        removeEventListener("message", heard);
        resolve(true);
      };
      addEventListener("message", heard);
      frame.src = way.page;
    });
    if (ready) return way;
    tried.push(way.kind + ": no answer");
  }
  return null;
}

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "duplexlab-code";
  // Typing in the snippet must not run JupyterLab's shortcuts (Ctrl+Enter, Shift+Enter, arrows).
  box.dataset.lmSuppressShortcuts = "true";
  box.style.cssText = "border:1px solid var(--jp-border-color1, #999);border-radius:6px;padding:8px;" +
    "max-width:64em;font-family:var(--jp-ui-font-family, sans-serif);color:var(--jp-content-font-color1, inherit)";
  const label = document.createElement("label");
  label.textContent = "JavaScript, run in this page (Ctrl+Enter runs it)";
  const code = document.createElement("textarea");
  code.className = "duplexlab-code-text";
  code.spellcheck = false;
  code.value = model.get("code");
  code.textContent = model.get("code");  // its first text, for a screen reader's and a test's eyes too
  code.wrap = "off";  // one row a line: the rows below fit the code, long lines scroll sideways
  code.rows = Math.min(16, Math.max(3, model.get("code").split("\n").length));
  // on a short screen (a projector at 150 %: 912×600) the box and the log share it with the diagram below:
  // each keeps to a part of the window's height and scrolls inside
  code.style.cssText = "display:block;width:100%;box-sizing:border-box;margin:4px 0;white-space:pre;" +
    "overflow:auto;max-height:40vh;font-family:var(--jp-code-font-family, monospace);font-size:inherit;tab-size:2";
  label.append(code);
  const run = document.createElement("button");
  run.textContent = "Run";
  run.className = "duplexlab-code-run";
  const stop = document.createElement("button");
  stop.textContent = "Stop";
  stop.className = "duplexlab-code-stop";
  stop.style.marginLeft = "6px";
  const status = document.createElement("div");
  status.className = "duplexlab-code-status";
  status.setAttribute("role", "status");
  status.style.margin = "4px 0";
  const log = document.createElement("ol");
  log.className = "duplexlab-code-log";
  log.setAttribute("aria-label", "what the code logged");
  log.setAttribute("aria-live", "polite");
  log.tabIndex = 0;
  log.style.cssText = "max-height:min(12em, 22vh);overflow:auto;margin:4px 0;padding-left:1.2em;list-style:none;" +
    "font-family:var(--jp-code-font-family, monospace)";
  const ring = document.createElement("style");
  ring.textContent = ".duplexlab-code :focus-visible { outline: 3px solid #0b57d0; outline-offset: -3px; }";
  box.append(ring, label, run, stop, status, log);
  el.append(box);
  const say = (text) => { status.textContent = text; };
  const line = (text) => {
    const item = document.createElement("li");
    item.textContent = text;
    log.append(item);
    while (log.children.length > 200) log.firstChild.remove();
    log.scrollTop = log.scrollHeight;
  };

  const frame = makeFrame();
  let way = null;
  let origin = null;
  let runs = 0;
  let gone = false;
  const pending = [];
  const post = (message) => {
    if (way === null) { pending.push(message); return; }
    frame.contentWindow.postMessage({ duplexlab: "code", ticket: model.get("ticket"), lab: way.lab, ws: way.ws, ...message }, origin);
  };
  const heard = (event) => {
    if (event.source !== frame.contentWindow || event.origin !== origin || !event.data) return;
    const m = event.data;
    if (m.op === "log") {
      const text = "run " + m.run + " · " + m.ms + " ms · " + m.text;
      line(text);
      model.set("logs", [...model.get("logs"), text].slice(-200));
      model.save_changes();
    } else if (m.op === "ran") {
      if (m.run === runs) {
        say(m.error ? "run " + m.run + ": the code threw an error (see the log)"
          : m.cleanup ? "run " + m.run + ": running; it returned a cleanup (Stop runs it)"
          : "run " + m.run + ": done (it returned no cleanup)");
      }
    } else if (m.op === "stopped") {
      say(m.cleanup ? "stopped: the cleanup ran" : "stopped: there was no cleanup to run");
    } else if (m.op === "refused") {
      say("the lab refused this page's ticket (" + m.text + "): run the cell again");
    }
  };
  addEventListener("message", heard);

  const runNow = () => {
    runs += 1;
    model.set("code", code.value);
    model.set("runs", model.get("runs") + 1);
    model.save_changes();
    say("run " + runs + ": starting …");
    post({ op: "run", run: runs, code: code.value });
  };
  run.onclick = runNow;
  stop.onclick = () => { say("stopping …"); post({ op: "stop", why: "Stop" }); };
  code.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); runNow(); }
  });

  (async () => {
    if (model.get("routes").length === 0) {
      say("this page cannot reach the lab (" + model.get("where") + "), so the code cannot run here");
      return;
    }
    say("loading the runner …");
    const tried = [];
    const found = await findRunner(frame, runnerWays(model), tried);
    if (gone) return;
    if (found === null) {
      say("this page cannot reach the lab (" + tried.join("; ") + "), so the code cannot run here");
      model.set("route", "none");
      model.save_changes();
      return;
    }
    way = found;
    origin = new URL(way.page).origin;
    model.set("route", way.kind);
    model.save_changes();
    for (const message of pending.splice(0)) post(message);
  })();
  runNow();  // mount: the snippet runs at once, as an effect does when its page mounts

  // Unmount (output cleared, cell re-run, widget closed): run the cleanup, then drop the frame.
  return () => {
    gone = true;
    if (way !== null) post({ op: "stop", why: "unmount" });
    setTimeout(() => { removeEventListener("message", heard); frame.remove(); }, 500);
  };
}
export default { render };
