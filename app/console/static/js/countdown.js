// Countdowns: any element with data-deadline shows the time left, in words for screen readers,
// and turns "overdue" (text as well as colour) once it has passed.
import { t, formatDuration } from "./i18n.js";
import { h } from "./dom.js";

export function countdown(deadlineIso, labelKey = "countdown.left") {
  const el = h("span", { class: "countdown", dataset: { deadline: deadlineIso, label: labelKey } });
  update(el, Date.now());
  return el;
}

function update(el, now) {
  const left = (Date.parse(el.dataset.deadline) - now) / 1000;
  const text = left >= 0 ? t(el.dataset.label, { time: formatDuration(left) }) : t("countdown.overdue", { time: formatDuration(-left) });
  if (el.textContent !== text) el.textContent = text;
  el.classList.toggle("overdue", left < 0);
  el.classList.toggle("soon", left >= 0 && left < 20);
}

export function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-deadline]")) update(el, now);
}
