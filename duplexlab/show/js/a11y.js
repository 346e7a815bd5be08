// Accessible names and visible focus for the course's controls (ipywidgets' and our own).
//
// ipywidgets' sliders draw a noUiSlider handle (role=slider) that has no accessible name: a screen
// reader says "slider 0.5" and never which one (ipywidgets issue #2650, "ARIA labels, and more
// accessibility features", is open upstream). nameControls(root) names every control under root
// that has no name: a slider's handle by its description (aria-labelledby its .widget-label), its
// editable readout as "<description> value", an input, select or textarea by the description next to
// it, its placeholder or its tooltip. A region that scrolls and holds nothing focusable gets
// tabindex=0, so a keyboard can reach it and scroll it; a line marked .duplexlab-status is read out
// when it changes (role=status). The page gets one style sheet: a focused
// control in root shows a thick ring, in light and dark themes.

const A11Y_STYLE_ID = "duplexlab-a11y-style";
const A11Y_FOCUSABLE = `:where(button, select, input, textarea, summary, a[href], [tabindex]:not([tabindex="-1"]),
                            [contenteditable="true"])`;
// ipywidgets' boxes clip what overflows them (overflow: auto): the ring of a button or a field is drawn
// inside its border (blue, with white inside it); a slider's round handle and a checkbox get it outside
// (the more specific rule: the general one matches through :where, which counts for nothing).
const A11Y_STYLE = `
.duplexlab-a11y ${A11Y_FOCUSABLE}:focus-visible {
  outline: 3px solid #0b57d0 !important; outline-offset: -3px !important; box-shadow: inset 0 0 0 5px #fff !important;
}
.duplexlab-a11y :is(.noUi-handle, input[type=checkbox], input[type=radio]):focus-visible {
  outline-offset: 2px !important; box-shadow: 0 0 0 2px #fff !important;
}
body[data-jp-theme-light="false"] .duplexlab-a11y ${A11Y_FOCUSABLE}:focus-visible {
  outline-color: #8ab4f8 !important; box-shadow: inset 0 0 0 5px #000 !important;
}
body[data-jp-theme-light="false"] .duplexlab-a11y :is(.noUi-handle, input[type=checkbox], input[type=radio]):focus-visible {
  box-shadow: 0 0 0 2px #000 !important;
}
`;

function a11yStyle(doc) {
  if (doc.getElementById(A11Y_STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = A11Y_STYLE_ID;
  style.textContent = A11Y_STYLE;
  doc.head.append(style);
}

let a11yCount = 0;
const a11yPrefix = "duplexlab-a11y-" + Math.random().toString(36).slice(2, 8) + "-";

function a11yId(node) {
  if (!node.id) node.id = a11yPrefix + ++a11yCount;
  return node.id;
}

function a11yText(node) {
  return node ? (node.textContent || "").replace(/\s+/g, " ").trim() : "";
}

// Whether a control has a name already (what axe and a screen reader would find), roughly.
function a11yNamed(node) {
  if ((node.getAttribute("aria-label") || "").trim()) return true;
  const by = node.getAttribute("aria-labelledby");
  if (by && by.split(/\s+/).some((id) => a11yText(node.ownerDocument.getElementById(id)))) return true;
  if (node.labels && [...node.labels].some((label) => a11yText(label))) return true;
  if (node.closest("label") && a11yText(node.closest("label"))) return true;
  if (node.tagName === "BUTTON" && a11yText(node)) return true;
  return Boolean((node.getAttribute("title") || "").trim());
}

// The visible description of the ipywidgets control that holds node (its .widget-label), if any.
function a11yDescription(node) {
  const box = node.closest(".widget-inline-hbox, .widget-inline-vbox, .jupyter-widgets");
  if (!box) return null;
  const label = box.querySelector(":scope > .widget-label");
  return label && a11yText(label) ? label : null;
}

function nameControls(root) {
  root.classList.add("duplexlab-a11y");
  a11yStyle(root.ownerDocument);
  for (const handle of root.querySelectorAll("[role=slider]")) {
    if (a11yNamed(handle)) continue;
    const label = a11yDescription(handle);
    if (label) handle.setAttribute("aria-labelledby", a11yId(label));
    else if (handle.closest("[title]")) handle.setAttribute("aria-label", handle.closest("[title]").title);
  }
  for (const readout of root.querySelectorAll(".widget-readout[contenteditable=true]")) {
    const label = a11yDescription(readout);
    if (!readout.getAttribute("role")) readout.setAttribute("role", "textbox");
    if (!a11yNamed(readout)) readout.setAttribute("aria-label", (label ? a11yText(label) + " " : "") + "value");
  }
  for (const control of root.querySelectorAll("input, select, textarea")) {
    if (control.type === "hidden" || a11yNamed(control)) continue;
    const label = a11yDescription(control);
    const words = control.getAttribute("placeholder") || control.closest("[title]")?.title || "";
    if (label) control.setAttribute("aria-labelledby", a11yId(label));
    else if (words.trim() && words !== "null") control.setAttribute("aria-label", words.trim());
  }
  for (const button of root.querySelectorAll("button")) {
    if (!a11yNamed(button) && button.closest("[title]")) button.setAttribute("aria-label", button.closest("[title]").title);
  }
  for (const line of root.querySelectorAll(".duplexlab-status:not([role])")) line.setAttribute("role", "status");
  // A region that scrolls must be reachable by keyboard to be read (WCAG 2.1.1).
  const focusable = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";
  for (const node of root.querySelectorAll("*")) {
    if (node.scrollHeight <= node.clientHeight + 1 && node.scrollWidth <= node.clientWidth + 1) continue;
    const overflow = getComputedStyle(node);
    if (!/(auto|scroll)/.test(overflow.overflowY + overflow.overflowX)) continue;
    if (node.hasAttribute("tabindex") || node.querySelector(focusable)) continue;
    node.tabIndex = 0;
    if (!node.getAttribute("role")) node.setAttribute("role", "region");
    if (!a11yNamed(node)) node.setAttribute("aria-label", "scrolling text");
  }
}

// The keys a focused control uses itself (a select's arrows and type-ahead, a scrolling region's arrows):
// JupyterLab's notebook, in command mode, takes the same keys for its own shortcuts (ArrowDown selects
// the next cell, taking focus away; letters change cells) unless the control already handled them.
// Stopped here, at the group, they reach the control and not the notebook.
const A11Y_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown", " "]);

function a11yKeys(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.target === event.currentTarget) return;
  if (A11Y_KEYS.has(event.key) || (event.target.tagName === "SELECT" && event.key.length === 1)) {
    event.stopPropagation();
  }
}

// Name the controls under root now and again whenever its content changes (a widget redrawn, a slider
// re-rendered, a dropdown's options replaced); keep their keys from the notebook's shortcuts. Returns a
// function that stops it all.
function watchNames(root) {
  let queued = false;
  const again = () => {
    if (queued) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      nameControls(root);
    }, 50);
  };
  nameControls(root);
  const observer = new MutationObserver(again);
  observer.observe(root, { childList: true, subtree: true });
  // Laid out only once on screen (JupyterLab's windowed notebook): what scrolls shows then.
  const seen = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) again(); });
  seen.observe(root);
  root.addEventListener("keydown", a11yKeys);
  return () => { observer.disconnect(); seen.disconnect(); root.removeEventListener("keydown", a11yKeys); };
}
