function render({ el }) {
  // Sits inside a group of controls (a Shown widget's box), invisible: names its siblings' controls
  // and gives them a visible focus ring (a11y.js above), now and whenever they are drawn again.
  el.style.display = "none";
  let stop = () => {};
  let tries = 0;
  let unmounted = false;
  const start = () => {
    if (unmounted) return;
    const group = el.parentElement;
    if (!group) {
      if (++tries < 400) setTimeout(start, 50); // the box attaches its children after rendering them
      return;
    }
    stop = watchNames(group);
  };
  start();
  return () => { unmounted = true; stop(); };
}
export default { render };
