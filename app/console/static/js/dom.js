// A tiny DOM builder: every text passed in becomes a text node (never HTML), so data from the
// server cannot inject markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Rebuild a block without taking from the person what they were doing in it: a live event
// repaints the alert's actions while a reason is being typed, and neither the text nor the
// keyboard focus may be lost to it.
export function repaintKeeping(container, paint) {
  const values = new Map();
  for (const el of container.querySelectorAll("input[id], select[id], textarea[id]")) values.set(el.id, el.value);
  const active = document.activeElement;
  const focused = active && active !== container && container.contains(active) ? active : null;
  const caret = focused && typeof focused.selectionStart === "number" ? [focused.selectionStart, focused.selectionEnd] : null;
  paint();
  for (const [id, value] of values) {
    const el = container.querySelector(`#${CSS.escape(id)}`);
    if (!el || el.disabled) continue;
    if (el.tagName === "SELECT" && ![...el.options].some((option) => option.value === value)) continue;
    el.value = value;
  }
  if (!focused?.id) return;
  const again = container.querySelector(`#${CSS.escape(focused.id)}`);
  if (!again) return;
  again.focus({ preventScroll: true }); // the person may have scrolled away from it
  if (caret && typeof again.selectionStart === "number") again.setSelectionRange(caret[0], caret[1]);
}
