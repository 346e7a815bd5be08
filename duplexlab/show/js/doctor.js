// dl.doctor()'s box: what this browser can do, checked from the browser itself.
// Each way to the lab (route.js above) is tried on its own, with a ticket of its own.
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "duplexlab-doctor";
  box.style.cssText = "border:1px solid #bbb;border-radius:6px;padding:8px 12px;max-width:760px;font:13px sans-serif";
  const title = document.createElement("div");
  title.innerHTML = "<b>Seen from this browser</b>";
  const list = document.createElement("ul");
  list.style.cssText = "margin:6px 0;padding-left:18px;line-height:1.5";
  const verdict = document.createElement("div");
  verdict.className = "duplexlab-doctor-verdict";
  box.append(title, list, verdict);
  el.append(box);

  const found = {};
  const row = (key, text) => {
    let item = list.querySelector("[data-check='" + key + "']");
    if (!item) {
      item = document.createElement("li");
      item.dataset.check = key;
      list.append(item);
    }
    item.textContent = text;
  };
  const report = (key, ok, text) => {
    found[key] = { ok, text };
    row(key, (ok === true ? "✓ " : ok === false ? "✗ " : "· ") + text);
    model.set("found", { ...found });
    model.save_changes();  // reaches the kernel when no cell runs
    const order = ["direct", "proxy", "bridge"].filter((k) => found[k] && found[k].ok === true);
    verdict.textContent = order.length
      ? "Lesson 05's browser widget will go " + WAY_NAMES[order[0]] + "."
      : "";
  };

  report("widgets", true, "widgets render here");
  for (const kind of ["direct", "proxy", "bridge"]) row(kind, "· " + WAY_NAMES[kind] + ": …");  // in this order
  const planned = waysToLab(model).map((way) => way.kind);
  const tickets = model.get("tickets");
  let unmounted = false;
  const sockets = [];

  const tryWay = async (kind, ticket) => {
    const way = waysToLab(model).find((w) => w.kind === kind);
    if (!way) {
      report(kind, null, !model.get("routes").includes(kind)
        ? WAY_NAMES[kind] + ": not tried here (Colab's widgets reach the kernel over the comm only)"
        : kind === "direct"
        ? "straight to the lab: not tried; this page comes from a notebook server on another machine, " +
          "and this browser's 127.0.0.1 is not the kernel's"
        : "through the notebook server's proxy: not tried; this page has no notebook server (VS Code, Colab) " +
          "or the lab is not on the kernel's 127.0.0.1");
      return;
    }
    report(kind, null, WAY_NAMES[kind] + ": trying " + way.url + " …");
    const t0 = performance.now();
    const { ws, why } = await knock(way.url, ticket, kind === "direct" ? 3000 : 5000, kind);
    if (ws) {
      sockets.push(ws);
      report(kind, true, WAY_NAMES[kind] + ": open in " + (performance.now() - t0).toFixed(0) + " ms (" + way.url + ")");
      ws.close(1000, "checked");
    } else {
      // Not an error while another way works (the comm always can): "·", with what would open it.
      report(kind, null, WAY_NAMES[kind] + ": " + why + (kind === "proxy"
        ? " (optional: with jupyter-server-proxy installed where the notebook server runs, the widget " +
          "connects while cells run; on a hub, ask whoever runs it)"
        : ""));
    }
  };

  (async () => {
    await tryWay("direct", tickets[0]);
    if (unmounted) return;
    await tryWay("proxy", tickets[1]);
  })();

  // The comm: a ping the kernel answers, once no cell is running.
  const sent = performance.now();
  const heard = (msg) => {
    if (msg && msg.op === "pong") {
      model.off("msg:custom", heard);
      report("bridge", true, WAY_NAMES.bridge + ": the kernel answered over the comm in " +
        (performance.now() - sent).toFixed(0) + " ms (it answers only when no cell is running)");
    }
  };
  model.on("msg:custom", heard);
  report("bridge", null, WAY_NAMES.bridge + ": waiting for the kernel to answer (when no cell is running) …");
  model.send({ op: "ping" });
  if (!planned.includes("direct") && !planned.includes("proxy")) {
    verdict.textContent = "Lesson 05's browser widget will go over the widget's comm.";
  }

  return () => {
    unmounted = true;
    model.off("msg:custom", heard);
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.close(1000, "unmount");
  };
}
export default { render };
