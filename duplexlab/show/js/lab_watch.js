function render({ model, el }) {
  // A line to the lab, opened on a one-use ticket (directly or through the notebook server's
  // proxy: route.js above). The lab lives in the kernel: when the line drops (the kernel
  // restarted, or the lab was stopped), say so over the stale controls. A page that can't
  // reach the lab at all (VS Code, Colab) has nothing to watch: it shows nothing.
  const note = document.createElement("div");
  note.className = "duplexlab-lab-watch";
  note.style.cssText = "display:none;padding:6px 10px;margin:4px 0;border-radius:4px;" +
    "background:#fff3cd;color:#664d03;border:1px solid #ffda6a;font:13px sans-serif";
  el.append(note);
  let unmounted = false;
  const line = openLine(model, {
    trying: () => {},
    open: () => {},
    message: () => {},
    nowhere: () => {},
    close: () => {
      if (unmounted) return;
      note.textContent = "Kernel restarted (or the lab stopped): these controls are no longer " +
        "connected and their numbers are stale. Run this cell again.";
      note.style.display = "block";
      const group = el.closest(".widget-vbox");
      if (group) group.style.opacity = "0.55";
    },
  });
  return () => { unmounted = true; line.close(1000, "unmount"); };
}
export default { render };
