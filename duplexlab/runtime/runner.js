// The browser code runner: the page the lab serves at /_duplexlab/runner, loaded by
// dl.show.BrowserCode in an invisible frame (duplexlab/show/js/browser_code.js).
// It runs a student's snippet as an effect body: the snippet may return a cleanup
// function, which runs on Stop, on the next run and when the frame goes away.
// It takes code only from its parent frame, and only after the lab accepted the
// one-use ticket that came with the first message (rule 4 in runtime/policy.py).
(() => {
  const AsyncFunction = (async () => {}).constructor;
  let parentOrigin = null;  // the origin that sent a good ticket: the only one heard from then on
  let cleanup = null;  // [function, its run's log] of the run whose cleanup is due
  let run = 0;
  let queue = Promise.resolve();

  const describe = (value) => {
    if (value instanceof Error) return value.name + ": " + value.message;
    if (typeof value === "string") return value;
    if (value instanceof Event) return value.type + " event";
    try { return JSON.stringify(value) ?? String(value); } catch (e) { return String(value); }
  };
  const tell = (message) => parent.postMessage({ duplexlab: "runner", ...message }, parentOrigin || "*");
  // Each run logs as itself: a socket of run 2 that closes during run 3 still says "run 2".
  const logger = (mine, started) => (...args) => {
    if (parentOrigin === null) return;
    tell({ op: "log", run: mine, ms: Math.round(performance.now() - started), text: args.map(describe).join(" ") });
  };
  let log = logger(0, performance.now());
  addEventListener("error", (event) => log("uncaught " + (event.error ? describe(event.error) : event.message)));
  addEventListener("unhandledrejection", (event) => log("unhandled rejection: " + describe(event.reason)));

  async function stop(why) {
    const due = cleanup;
    cleanup = null;
    if (due === null) return false;
    const [current, itsLog] = due;
    try {
      await current();
      itsLog("cleanup ran (" + why + ")");
    } catch (e) {
      itsLog("cleanup failed: " + describe(e));
    }
    return true;
  }
  addEventListener("pagehide", () => { stop("the page left"); });

  async function unlock(ticket) {
    try {
      const answer = await fetch(new URL("runner/unlock", location.href), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ticket }),
        credentials: "same-origin",
      });
      if (answer.ok) return null;
      const body = await answer.json().catch(() => ({}));
      return body.error || "refused (" + answer.status + ")";
    } catch (e) {
      return describe(e);
    }
  }

  async function start(message) {
    await stop("run again");
    run = message.run || run + 1;
    const mine = run;
    const itsLog = logger(mine, performance.now());
    log = itsLog;
    let result;
    try {
      result = await new AsyncFunction("LAB", "WS", "log", message.code)(message.lab, message.ws, itsLog);
    } catch (e) {
      itsLog("error: " + describe(e));
      tell({ op: "ran", run: mine, error: true });
      return;
    }
    const hasCleanup = typeof result === "function";
    tell({ op: "ran", run: mine, cleanup: hasCleanup });
    if (hasCleanup) cleanup = [result, itsLog];
  }

  addEventListener("message", (event) => {
    const message = event.data;
    if (event.source !== parent || !message || message.duplexlab !== "code") return;
    if (parentOrigin !== null && event.origin !== parentOrigin) return;
    queue = queue.then(async () => {
      if (parentOrigin === null) {
        const why = await unlock(message.ticket || "");
        if (why !== null) {
          parent.postMessage({ duplexlab: "runner", op: "refused", text: why }, event.origin);
          return;
        }
        parentOrigin = event.origin;
        tell({ op: "unlocked" });
      }
      if (message.op === "run") await start(message);
      else if (message.op === "stop") tell({ op: "stopped", run, cleanup: await stop(message.why || "Stop") });
    });
  });
  parent.postMessage({ duplexlab: "runner", op: "ready" }, "*");  // nothing secret: the parent may now send
})();
