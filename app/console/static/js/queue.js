// The live queue: my unit's offers and claims, newest first ("done": what my unit finished);
// transit staff get the same list laid out for a phone. Each row shows the viewer's own leg, the
// other units' legs beside it, and an accept button when the server says (or, not knowing yet,
// may say) that I may accept: an offer announced by the stream alone is enough.
import { h } from "./dom.js";
import { t, tOr, formatTime } from "./i18n.js";
import { state, legsOfAlert, unitName, loadQueue, verdict } from "./state.js";
import { api, ApiError } from "./session.js";
import { countdown } from "./countdown.js";
import { go, announce, render } from "./app.js";

export function renderQueue() {
  const transit = state.me.role === "transit_staff";
  const legs = state.legs.filter((leg) => state.me.province || leg.unit_code === state.me.unit_code);
  const rows = legs.map((leg) => row(leg, transit));
  const filter = (value) => h("button", { type: "button", id: `queue-filter-${value}`, "aria-pressed": String(state.queueFilter === value), onclick: () => switchFilter(value) }, t(`queue.filter_${value}`));
  return h(
    "section",
    { class: transit ? "queue transit" : "queue", "aria-labelledby": "queue-title" },
    h("h1", { id: "queue-title" }, t(transit ? "transit.title" : "queue.title")),
    h("p", { class: "hint" }, t("queue.hint")),
    h("div", { class: "queue-filter", role: "group", "aria-label": t("queue.filter_label") }, filter("open"), filter("closed")),
    rows.length ? h("ul", { class: "rows", id: "queue-rows" }, rows) : h("p", { class: "empty", id: "queue-empty" }, t("queue.empty")),
  );
}

async function switchFilter(value) {
  if (state.queueFilter === value) return;
  state.queueFilter = value;
  state.legs = [];
  await loadQueue().catch(() => {});
  render();
}

// My own leg of the alert, in words: offered to me, taken by me or a colleague, or how it ended.
function ownLeg(leg) {
  if (leg.status === "offered") return h("span", { class: "claim unclaimed" }, t("queue.leg_offered"));
  if (leg.status === "accepted") return h("span", { class: "claim" }, leg.accepted_by === state.me.id ? t("queue.leg_yours") : t("queue.leg_colleague"));
  return h("span", { class: "claim" }, t("queue.leg_closed", { status: tOr(`leg.${leg.status}`, leg.status) }));
}

function acceptButton(leg) {
  if (state.me.province || leg.status !== "offered" || state.queueFilter !== "open") return null;
  const v = verdict(leg.alert_id, "accept", leg);
  const why = h("span", { class: "why", id: `accept-why-${leg.id}` }, v.allowed ? "" : tOr(`why.${v.reason}`, t("why.unknown")));
  const accept = async () => {
    try {
      await api("POST", `/v1/assignments/${v.assignment_id || leg.id}/accept`);
      announce(t("done.accepted"));
      go({ name: "alert", alertId: leg.alert_id });
    } catch (error) {
      const reason = error instanceof ApiError ? error.problem?.reason : null;
      why.textContent = reason ? tOr(`why.${reason}`, error.message) : error instanceof ApiError && error.message ? error.message : t("error.network");
    }
  };
  return h("span", { class: "row-accept" }, h("button", { type: "button", class: "primary accept", dataset: { assignment: leg.id }, disabled: !v.allowed, "aria-describedby": `accept-why-${leg.id}`, onclick: accept }, t("queue.accept")), why);
}

function row(leg, transit) {
  const alert = state.alerts.get(leg.alert_id);
  const others = legsOfAlert(leg.alert_id).filter(
    (other) => other.unit_code !== leg.unit_code && ["offered", "accepted", "completed"].includes(other.status),
  );
  const context = alert?.transit_context;
  const station = alert?.station_candidates?.find((s) => s.at_station);
  const facts = [
    h("span", { class: "area" }, alert?.area_name || t("queue.area_unknown")),
    context || station
      ? h("span", { class: "transit-ctx" }, t("queue.transit", { where: [context?.operator, context?.station || station?.name, context?.vehicle].filter(Boolean).join(" · ") }))
      : null,
    state.me.province ? null : ownLeg(leg),
    others.length ? h("span", { class: "others" }, others.map((o) => t("queue.other_leg", { unit: unitName(o.unit_code), status: tOr(`leg.${o.status}`, o.status) })).join(" · ")) : null,
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
    acceptButton(leg),
    transit ? null : h("span", { class: "unit" }, unitName(leg.unit_code)),
  );
}
