function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "duplexlab-socket";
  // Text sizes come from the course's style sheet (show/projector.py): 13 px, 16 in projector mode.
  box.style.cssText = "border:1px solid var(--jp-border-color1, #999);border-radius:6px;" +
    "padding:8px;max-width:40em;font-family:var(--jp-ui-font-family, sans-serif);" +
    "color:var(--jp-content-font-color1, inherit)";
  const status = document.createElement("div");
  status.className = "duplexlab-socket-status";
  const log = document.createElement("ul");
  log.className = "duplexlab-socket-log";
  log.style.cssText = "max-height:14em;overflow:auto;margin:6px 0;padding-left:1.4em;" +
    "font-family:var(--jp-code-font-family, monospace)";
  const input = document.createElement("input");
  input.className = "duplexlab-socket-input";
  input.placeholder = "type a message";
  const button = document.createElement("button");
  button.className = "duplexlab-socket-send";
  button.textContent = "Send";
  // For a screen reader and a keyboard: the controls have names, the status and the log are read out
  // as they change, the log can be focused (and scrolled with the arrow keys), focus shows as a ring.
  status.setAttribute("role", "status");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "messages received");
  log.tabIndex = 0;
  // its arrow keys scroll it: stop them here, or JupyterLab's notebook takes them (ArrowDown: next cell)
  log.addEventListener("keydown", (event) => {
    if (!event.ctrlKey && !event.metaKey && !event.altKey && /^(Arrow|Page|Home|End| )/.test(event.key)) {
      event.stopPropagation();
    }
  });
  input.setAttribute("aria-label", "message to send");
  const ring = document.createElement("style");
  ring.textContent = ".duplexlab-socket :focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; }";
  box.append(ring, status, log, input, button);
  el.append(box);
  const show = (text) => { status.textContent = text; };

  // Each message is JSON with a "type"; show chat lines as a person would read them.
  const readable = (data) => {
    try {
      const m = JSON.parse(data);
      if (m.type === "message") return m.from + ": " + m.text;
      if (m.type === "presence") return m.joined ? "→ " + m.joined + " joined" : "← " + m.left + " left";
      if (m.type === "welcome") return "welcome, " + m.you + " (online: " + m.online.join(", ") + ")";
      if (m.type === "error") return "error: " + m.error + " (" + m.hint + ")";
    } catch (e) { /* not JSON: show it as it came */ }
    return data;
  };

  // Mount: this view opens its own line to the lab at once (route.js above finds the way).
  // The lab lets it in on the one-use ticket the kernel put in the widget's state, so nothing
  // waits for the kernel, which may be busy running the next cells.
  let opened = false;
  const line = openLine(model, {
    trying: (way, tried) => show((tried.length ? "couldn't reach the lab (" + tried.join("; ") + "); " : "") +
      (way.kind === "bridge"
        ? "joining " + WAY_NAMES.bridge + " once no cell is running …"
        : "connecting " + WAY_NAMES[way.kind] + ": " + way.url + " …")),
    open: (way) => {
      opened = true;
      show("open, " + WAY_NAMES[way.kind] + (way.url ? ": " + way.url : ""));
      status.dataset.way = way.kind;
      model.set("opened", model.get("opened") + 1);
      model.set("route", way.kind);
      model.save_changes();
    },
    message: (data) => {
      const item = document.createElement("li");
      item.textContent = readable(data);
      log.append(item);
      log.scrollTop = log.scrollHeight;
      model.set("received", [...model.get("received"), data].slice(-50));
      model.save_changes();
    },
    close: (code, reason) => show(opened
      ? "closed: " + code + " " + reason
      : "couldn't open (" + code + (reason ? ": " + reason : "") + "); run the widget's cell again"),
    nowhere: (tried) => show("can't reach the lab from this browser (" + tried.join("; ") + ")"),
  });

  const send = () => {
    const text = input.value.trim();
    if (text && line.send(text.startsWith("{") ? text : JSON.stringify({ type: "message", text }))) input.value = "";
  };
  button.onclick = send;
  input.onkeydown = (event) => { if (event.key === "Enter") send(); };

  // Unmount: anywidget calls this when the view goes away (output cleared, cell re-run).
  return () => line.close(1000, "unmount");
}
export default { render };
