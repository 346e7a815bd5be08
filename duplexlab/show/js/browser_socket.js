function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "duplexlab-socket";
  box.style.cssText = "border:1px solid #bbb;border-radius:6px;padding:8px;max-width:640px;font:13px sans-serif";
  const status = document.createElement("div");
  status.className = "duplexlab-socket-status";
  const log = document.createElement("ul");
  log.className = "duplexlab-socket-log";
  log.style.cssText = "max-height:180px;overflow:auto;margin:6px 0;padding-left:18px;font-family:monospace";
  const input = document.createElement("input");
  input.className = "duplexlab-socket-input";
  input.placeholder = "type a message";
  const button = document.createElement("button");
  button.className = "duplexlab-socket-send";
  button.textContent = "Send";
  box.append(status, log, input, button);
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
