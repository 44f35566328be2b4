// The live queue: my unit's offers and claims, newest first; transit staff get the same list
// laid out for a phone.
import { h } from "./dom.js";
import { t, tOr, formatTime } from "./i18n.js";
import { state, legsOfAlert, unitName, holder } from "./state.js";
import { countdown } from "./countdown.js";
import { go } from "./app.js";

export function renderQueue() {
  const transit = state.me.role === "transit_staff";
  const legs = state.legs.filter((leg) => state.me.province || leg.unit_code === state.me.unit_code);
  const rows = legs.map((leg) => row(leg, transit));
  return h(
    "section",
    { class: transit ? "queue transit" : "queue", "aria-labelledby": "queue-title" },
    h("h1", { id: "queue-title" }, t(transit ? "transit.title" : "queue.title")),
    h("p", { class: "hint" }, t("queue.hint")),
    rows.length ? h("ul", { class: "rows", id: "queue-rows" }, rows) : h("p", { class: "empty", id: "queue-empty" }, t("queue.empty")),
  );
}

function row(leg, transit) {
  const alert = state.alerts.get(leg.alert_id);
  const held = holder(leg.alert_id);
  const others = legsOfAlert(leg.alert_id).filter(
    (other) => other.unit_code !== leg.unit_code && ["offered", "accepted"].includes(other.status),
  );
  const context = alert?.transit_context;
  const station = alert?.station_candidates?.find((s) => s.at_station);
  const facts = [
    h("span", { class: "area" }, alert?.area_name || t("queue.area_unknown")),
    context || station
      ? h("span", { class: "transit-ctx" }, t("queue.transit", { where: [context?.operator, context?.station || station?.name, context?.vehicle].filter(Boolean).join(" · ") }))
      : null,
    others.length ? h("span", { class: "others" }, t("queue.others", { units: others.map((o) => unitName(o.unit_code)).join(", ") })) : null,
    held
      ? h("span", { class: "claim" }, held.accepted_by === state.me.id ? t("queue.held_by_you") : t("queue.held_by", { unit: unitName(held.unit_code) }))
      : h("span", { class: "claim unclaimed" }, t("queue.unclaimed")),
  ];
  const status = leg.status === "offered" ? countdown(leg.deadline_at, "countdown.ack") : h("span", { class: "status" }, tOr(`leg.${leg.status}`, leg.status));
  return h(
    "li",
    { class: `row leg-${leg.status}`, dataset: { alert: leg.alert_id, case: leg.case_code || "" } },
    h(
      "button",
      {
        type: "button",
        class: "row-open",
        "aria-label": t("queue.open_label", { code: leg.case_code || "" }),
        onclick: () => go({ name: "alert", alertId: leg.alert_id }),
      },
      h("strong", { class: "case-code" }, leg.case_code || ""),
      leg.is_drill ? h("span", { class: "drill" }, t("alert.drill")) : null,
      h("span", { class: "offered-at" }, t("queue.offered_at", { time: formatTime(leg.offered_at) })),
    ),
    h("span", { class: "facts" }, facts),
    status,
    transit ? null : h("span", { class: "unit" }, unitName(leg.unit_code)),
  );
}
