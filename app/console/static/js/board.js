// The supervisor board: every active alert in the province (escalated and breaching first),
// live SLA warnings and breaches, and the SLA report for today and this week as SVG charts.
import { h, svg, clear } from "./dom.js";
import { t, tOr, formatTime, zoneName } from "./i18n.js";
import { api } from "./session.js";
import { state, unitName, holder, legsOfAlert } from "./state.js";
import { countdown } from "./countdown.js";
import { drawDutyMap } from "./map.js";
import { go } from "./app.js";

let report = { today: null, week: null };
let duty = [];
let dutyAt = 0;

let listedAt = 0;

// A break of the glass must reach every supervisor's board now, not with the next report.
// A read already under way when the glass broke may not have it: it must not count as fresh.
let glassGeneration = 0;
export function glassBroken() {
  glassGeneration += 1;
  report.at = 0;
}

// The whole list on start, on resync and at most once a minute; otherwise only the alerts the
// stream said changed (each read of an alert is audited, so the board reads no more than it must).
export async function refreshBoard(touched = null) {
  if (touched === null || Date.now() - listedAt > 60000) {
    listedAt = Date.now();
    // Every active alert, page by page: a burst of more than 100 must not hide the oldest ones.
    const active = [];
    let cursor = null;
    do {
      const page = await api("GET", `/v1/alerts?active=true&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      active.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    for (const alert of active) state.alerts.set(alert.id, alert);
    state.board = active.filter((a) => !closed(a));
  } else {
    for (const id of touched) {
      const alert = await api("GET", `/v1/alerts/${id}`).catch(() => null);
      if (!alert) continue;
      state.alerts.set(id, alert);
      state.board = [alert, ...state.board.filter((a) => a.id !== id)].filter((a) => !closed(a));
    }
  }
  if (touched !== null && report.at && Date.now() - report.at < 60000) return;
  const generation = glassGeneration;
  const now = new Date();
  const dayStart = startOfLocalDay(now);
  const [today, week, glass] = await Promise.all([
    api("GET", `/v1/reports/sla?from=${enc(dayStart)}&to=${enc(now)}&group_by=post`).catch(() => null),
    api("GET", `/v1/reports/sla?from=${enc(new Date(dayStart - 6 * 86400000))}&to=${enc(now)}&group_by=day`).catch(() => null),
    api("GET", "/v1/break-glass?limit=5").catch(() => null),
  ]);
  report = { today, week, glass, at: generation === glassGeneration ? Date.now() : 0 };
  // Who is on duty where: one read per unit, so at most once a minute.
  if (Date.now() - dutyAt > 60000) {
    dutyAt = Date.now();
    const units = [...state.units.values()].filter((u) => u.active);
    const rows = await Promise.all(units.map((u) => api("GET", `/v1/units/${u.code}/on-duty`).then((d) => ({ unit: u, ...d })).catch(() => null)));
    duty = rows.filter((r) => r && (r.rostered.length || r.present.length || (r.on_call || []).length));
  }
}

function dutySection() {
  return h(
    "section",
    { "aria-labelledby": "duty-title", class: "duty" },
    h("h2", { id: "duty-title" }, t("board.duty")),
    drawDutyMap(duty),
    duty.length
      ? h("table", { class: "small", id: "duty-table" }, h("thead", {}, h("tr", {}, ["report.unit", "board.open", "board.rostered", "board.present", "board.on_call"].map((k) => h("th", { scope: "col" }, t(k))))),
          h("tbody", {}, duty.map((d) => h("tr", {}, h("td", {}, d.unit.name), h("td", {}, d.open ? t("units.open") : t("units.closed")), h("td", {}, d.rostered.join(", ")), h("td", {}, d.present.join(", ") || t("board.nobody_present")), h("td", {}, (d.on_call || []).join(", ") || "—")))))
      : h("p", { class: "empty" }, t("board.nobody_on_duty")),
  );
}

const closed = (a) => ["resolved", "cancelled"].includes(a.state);
const enc = (d) => encodeURIComponent(new Date(d).toISOString());

function startOfLocalDay(now) {
  // Midnight in the region's zone: the offset is read from Intl for that zone.
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zoneName(), hourCycle: "h23", hour: "numeric", minute: "numeric", second: "numeric" }).formatToParts(now).map((p) => [p.type, p.value]));
  const since = (Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second)) * 1000;
  return new Date(now.getTime() - since - now.getMilliseconds());
}

function urgency(alert) {
  const legs = legsOfAlert(alert.id);
  const breaching = state.warnings.some((w) => w.data.alert_id === alert.id && w.event === "sla.breached");
  const escalated = legs.some((l) => l.step > 0);
  const unacked = ["received", "routed"].includes(alert.state);
  return (breaching ? 4 : 0) + (escalated ? 2 : 0) + (unacked ? 1 : 0);
}

export function renderBoard() {
  const alerts = [...state.board].sort((a, b) => urgency(b) - urgency(a) || b.received_at.localeCompare(a.received_at));
  const table = h(
    "table",
    { class: "board", id: "board-table" },
    h("caption", {}, t("board.active", { n: alerts.length })),
    h("thead", {}, h("tr", {}, ["board.case", "board.state", "board.area", "board.units", "board.holder", "board.flags"].map((k) => h("th", { scope: "col" }, t(k))))),
    h(
      "tbody",
      {},
      alerts.map((a) => {
        const legs = legsOfAlert(a.id).filter((l) => ["offered", "accepted"].includes(l.status));
        const held = holder(a.id);
        const offered = legs.find((l) => l.status === "offered");
        const u = urgency(a);
        return h(
          "tr",
          { class: u >= 4 ? "breach" : u >= 2 ? "escalated" : "", dataset: { alert: a.id } },
          h("th", { scope: "row" }, h("button", { type: "button", class: "link", onclick: () => go({ name: "alert", alertId: a.id }) }, a.case_code), a.is_drill ? h("span", { class: "drill" }, t("alert.drill")) : null, a.restricted ? h("span", { class: "restricted-tag" }, t("board.restricted")) : null),
          h("td", {}, tOr(`state.${a.state}`, a.state), offered && !held ? [" ", countdown(offered.deadline_at, "countdown.ack")] : null),
          h("td", {}, a.area_name || t("queue.area_unknown")),
          h("td", {}, legs.map((l) => unitName(l.unit_code)).join(", ") || "—"),
          h("td", {}, held ? unitName(held.unit_code) : t("queue.unclaimed")),
          h("td", {}, [u >= 4 ? t("board.breaching") : null, u >= 2 && u < 4 ? t("board.escalated") : null, a.do_not_call_back ? t("board.dncb") : null].filter(Boolean).join(" · ")),
        );
      }),
    ),
  );
  const warnings = h(
    "section",
    { "aria-labelledby": "warn-title", class: "warnings" },
    h("h2", { id: "warn-title" }, t("board.warnings")),
    state.warnings.length
      ? h("ul", { id: "warnings" }, state.warnings.map((w) => h("li", { class: w.event === "sla.breached" || w.event === "alert.handoff_unacknowledged" ? "breach" : "warn" }, formatTime(w.at), " ", [tOr(`event.${w.event}`, w.event), w.data.clock ? tOr(`clock.${w.data.clock}`, w.data.clock) : null, w.data.case_code || null].filter(Boolean).join(" · "), w.data.phone_fallback ? [" · ", h("a", { href: `tel:${w.data.phone_fallback}` }, t("handoff.call", { phone: w.data.phone_fallback }))] : null)))
      : h("p", { class: "empty" }, t("board.no_warnings")),
  );
  return h(
    "section",
    { class: "board-view", "aria-labelledby": "board-title" },
    h("h1", { id: "board-title" }, t("board.title")),
    h("div", { class: "columns" }, h("div", { class: "col wide" }, table), h("div", { class: "col" }, warnings, dutySection(), reportSection(), glassSection())),
  );
}

// The latest breaks of the glass: who opened which restricted record, why, until when.
function glassSection() {
  const grants = report.glass?.items || [];
  return h(
    "section",
    { "aria-labelledby": "glass-report-title", class: "report" },
    h("h2", { id: "glass-report-title" }, t("glass.report_title")),
    grants.length
      ? h("ul", { id: "glass-report" }, grants.map((g) => h("li", {}, t(g.kind === "claim_after_reassign" ? "glass.report_claim_line" : "glass.report_line", { time: formatTime(g.granted_at, true), user: g.username, code: g.case_code, until: formatTime(g.expires_at), reason: g.reason }))))
      : h("p", { class: "empty" }, t("glass.report_none")),
  );
}

function reportSection() {
  const week = report.week?.groups || [];
  const today = report.today?.groups || [];
  const ack = (g) => g.clocks?.acknowledgement || {};
  return h(
    "section",
    { "aria-labelledby": "report-title", class: "report" },
    h("h2", { id: "report-title" }, t("report.title")),
    h("h3", {}, t("report.week")),
    barChart(week.map((g) => ({ label: g.key.slice(5), value: ack(g).share_met, count: g.alerts }))),
    h("h3", {}, t("report.today")),
    today.length
      ? h("table", { class: "small" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("report.unit")), h("th", { scope: "col" }, t("report.alerts")), h("th", { scope: "col" }, t("report.share")), h("th", { scope: "col" }, t("report.p90")))), h("tbody", {}, today.map((g) => h("tr", {}, h("td", {}, unitName(g.key)), h("td", {}, g.alerts), h("td", {}, ack(g).share_met == null ? "—" : `${Math.round(ack(g).share_met * 100)} %`), h("td", {}, ack(g).p90_s == null ? "—" : `${Math.round(ack(g).p90_s)} s`)))))
      : h("p", { class: "empty" }, t("report.none")),
  );
}

function barChart(rows) {
  if (!rows.length) return h("p", { class: "empty" }, t("report.none"));
  const w = 40;
  const bars = rows.map((r, i) => {
    const v = r.value == null ? 0 : r.value;
    const height = v * 100;
    return svg("g", {}, svg("rect", { x: i * w + 6, y: 110 - height, width: w - 12, height, class: v >= 0.9 ? "bar ok" : "bar low" }), svg("text", { x: i * w + w / 2, y: 124, "text-anchor": "middle" }, r.label), svg("text", { x: i * w + w / 2, y: 106 - height, "text-anchor": "middle" }, r.value == null ? "—" : `${Math.round(v * 100)}%`));
  });
  return svg("svg", { class: "chart", viewBox: `0 0 ${rows.length * w} 130`, role: "img", "aria-label": t("report.chart_label", { days: rows.map((r) => `${r.label}: ${r.value == null ? "—" : Math.round(r.value * 100) + "%"}`).join(", ") }) }, svg("line", { x1: 0, x2: rows.length * w, y1: 20, y2: 20, class: "target" }), bars);
}

export { clear };
