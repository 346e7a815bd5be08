// A plot inside a widget: a PNG with its alt text and size, and its numbers as tables.
//
// The <img> gets width and height attributes from the PNG before its source is set, so the
// browser knows its box before it loads (max-width 100%, height auto: it scales down with the
// page and keeps its shape). It is never shrunk by the flex column it sits in. JupyterLab lays out
// only the cells on screen, and Chromium can keep an image's layout from before its source changed
// while the cell sat off screen (a 0×0 plot): so the image is laid out again when it loads and
// whenever it comes into view (forcing a style change, which lays it out at once).

function render({ model, el }) {
  el.classList.add("duplexlab-plot-view");
  el.style.cssText = "flex:0 0 auto;min-width:0;max-width:100%;align-self:stretch";
  const figure = document.createElement("figure");
  figure.className = "duplexlab-plot";
  figure.style.cssText = "margin:4px 0;max-width:100%";
  const img = document.createElement("img");
  img.className = "duplexlab-plot-img";
  img.style.cssText = "display:none;max-width:100%;height:auto;flex:none;background:#fff";
  const empty = document.createElement("p");
  empty.className = "duplexlab-plot-empty";
  empty.style.cssText = "margin:4px 0;font-style:italic";
  const details = document.createElement("details");
  details.className = "duplexlab-numbers";
  const summary = document.createElement("summary");
  summary.textContent = "Show the numbers";
  summary.style.cssText = "cursor:pointer;width:max-content;padding:2px 4px";
  const tables = document.createElement("div");
  tables.style.cssText = "overflow-x:auto";
  details.append(summary, tables);
  figure.append(img, empty, details);
  el.append(figure);

  let shown = null; // the object URL on screen
  let next = null; // the one loading
  let displayed = "none";

  function relayout() {
    // a style change lays the image out again, from its attributes and the width it has now
    img.style.display = "none";
    void img.offsetHeight;
    img.style.display = displayed;
  }

  function table(spec) {
    const t = document.createElement("table");
    t.style.cssText = "border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums";
    const caption = document.createElement("caption");
    caption.textContent = spec.caption;
    caption.style.cssText = "text-align:left;font-weight:bold;padding:2px 0";
    const head = document.createElement("tr");
    for (const name of spec.columns) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      th.style.cssText = "text-align:left;padding:2px 10px 2px 0;border-bottom:1px solid currentColor";
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    for (const row of spec.rows) {
      const tr = document.createElement("tr");
      for (const value of row) {
        const td = document.createElement("td");
        td.textContent = value;
        td.style.cssText = "padding:2px 10px 2px 0";
        tr.append(td);
      }
      tbody.append(tr);
    }
    t.append(caption, thead, tbody);
    return t;
  }

  function numbers() {
    const specs = model.get("tables") || [];
    tables.replaceChildren(...specs.map(table));
    details.style.display = specs.length ? "" : "none";
  }

  function draw() {
    const png = model.get("png");
    const size = png ? (png.byteLength ?? png.length ?? 0) : 0;
    if (!size) {
      displayed = "none";
      img.style.display = "none";
      img.removeAttribute("src");
      empty.textContent = model.get("empty");
      empty.style.display = model.get("empty") ? "" : "none";
      return;
    }
    empty.style.display = "none";
    img.width = model.get("width"); // the size first: the box is right before the bytes arrive
    img.height = model.get("height");
    img.alt = model.get("alt");
    img.dataset.textPt = String(model.get("text_pt"));
    if (next) URL.revokeObjectURL(next);
    next = URL.createObjectURL(new Blob([png], { type: "image/png" }));
    img.src = next;
    displayed = "block";
    relayout();
  }

  img.addEventListener("load", () => {
    if (shown && shown !== next) URL.revokeObjectURL(shown);
    shown = next;
    next = null;
    relayout();
  });
  const seen = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) relayout();
  });
  seen.observe(el);
  model.on("change:png", draw);
  model.on("change:alt", () => { img.alt = model.get("alt"); });
  model.on("change:tables", numbers);
  model.on("change:empty", draw);
  numbers();
  draw();
  return () => {
    seen.disconnect();
    for (const url of [shown, next]) if (url) URL.revokeObjectURL(url);
  };
}
export default { render };
