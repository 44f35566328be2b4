// The supervisor board: every active alert in the province, ordered by the server's attention
// items (what needs a supervisor, ranked by the server: app/sla/attention.py), the open items
// themselves (listed whenever the board opens, not only what happened since), live SLA events,
// and the SLA report for today and this week as SVG charts.
import { h, svg, clear } from "./dom.js";
import { t, tOr, formatTime, formatDay, zoneName } from "./i18n.js";
import { api } from "./session.js";
import { state, unitName, holder, legsOfAlert } from "./state.js";
import { countdown } from "./countdown.js";
import { drawDutyMap } from "./map.js";
import { go, rerender, announce } from "./app.js";

// Items at or above this rank (breached clocks and worse) are shown in red.
const URGENT_RANK = 70;

let report = { today: null, week: null };
let duty = [];
let dutyAt = 0;

let listedAt = 0;

// Open attention items (GET /v1/attention), kept current by attention.raised / attention.cleared.
let attention = new Map();

async function loadAttention() {
  const items = new Map();
  let cursor = null;
  do {
    const page = await api("GET", `/v1/attention?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    for (const item of page.items) items.set(item.id, item);
    cursor = page.next_cursor;
  } while (cursor);
  attention = items;
}

// A stream event about an item: the board follows it without a read.
export function attentionEvent(message) {
  const data = message.data || {};
  if (message.event === "attention.raised") {
    attention.set(data.item_id, { id: data.item_id, alert_id: data.alert_id, case_code: data.case_code, kind: data.kind, rank: data.rank, detail: data.detail || {}, raised_at: message.at });
  } else if (message.event === "attention.cleared") {
    attention.delete(data.item_id);
  }
}

export function resetBoard() {
  attention = new Map();
  inbox = { items: [], unread: 0 };
  inboxAt = 0;
}

// The messages sent to me (GET /v1/me/inbox): whatever became of their delivery, they are here.
let inbox = { items: [], unread: 0 };
let inboxAt = 0;
async function loadInbox() {
  const page = await api("GET", "/v1/me/inbox?limit=20");
  inbox = { items: page.items, unread: page.unread };
  inboxAt = Date.now();
}

async function markAllRead(button) {
  button.disabled = true;
  try {
    await api("POST", "/v1/me/inbox/read", {});
    await loadInbox();
    rerender();
  } catch (error) {
    button.disabled = false;
    announce(error.message);
  }
}

function inboxSection() {
  return h(
    "section",
    { "aria-labelledby": "inbox-title", class: "report inbox" },
    h("h2", { id: "inbox-title" }, t("inbox.title", { n: inbox.unread })),
    inbox.items.length
      ? [
          h("ul", { id: "inbox" }, inbox.items.map((m) => h("li", { class: m.read_at ? "read" : "unread", dataset: { kind: m.kind } }, formatTime(m.created_at), " ", m.read_at ? null : h("strong", {}, t("inbox.new"), " "), m.text))),
          inbox.unread ? h("button", { type: "button", class: "small", id: "inbox-read", onclick: (e) => markAllRead(e.currentTarget) }, t("inbox.mark_read")) : null,
        ]
      : h("p", { class: "empty" }, t("inbox.none")),
  );
}

const itemsOf = (alertId) => [...attention.values()].filter((i) => i.alert_id === alertId).sort(byRank);
const byRank = (a, b) => b.rank - a.rank || b.raised_at.localeCompare(a.raised_at);
// The server's rank of an alert: its highest open item's (0: nothing needs a supervisor).
const rankOf = (alertId) => Math.max(0, ...itemsOf(alertId).map((i) => i.rank));
const kindName = (item) => tOr(`attention.kind.${item.kind}`, item.kind);

async function acknowledge(item, button) {
  button.disabled = true;
  try {
    await api("POST", `/v1/attention/${item.id}/acknowledge`);
    attention.delete(item.id);
    announce(t("attention.acknowledged", { kind: kindName(item), code: item.case_code }));
    rerender();
  } catch (error) {
    button.disabled = false;
    announce(error.message);
  }
}

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
    await loadAttention();
    await loadInbox();
  } else {
    for (const id of touched) {
      const alert = await api("GET", `/v1/alerts/${id}`).catch(() => null);
      if (!alert) continue;
      state.alerts.set(id, alert);
      state.board = [alert, ...state.board.filter((a) => a.id !== id)].filter((a) => !closed(a));
    }
  }
  // New messages come with the events that cause them (escalations, breaches, transfers).
  if (touched !== null && Date.now() - inboxAt > 5000) await loadInbox().catch(() => null);
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

export function renderBoard() {
  const alerts = [...state.board].sort((a, b) => rankOf(b.id) - rankOf(a.id) || b.received_at.localeCompare(a.received_at));
  const flagged = alerts.filter((a) => rankOf(a.id) > 0).length;
  const table = h(
    "table",
    { class: "board", id: "board-table" },
    h("caption", {}, t("board.active", { n: alerts.length, m: flagged })),
    h("thead", {}, h("tr", {}, ["board.case", "board.state", "board.area", "board.units", "board.holder", "board.flags"].map((k) => h("th", { scope: "col" }, t(k))))),
    h(
      "tbody",
      {},
      alerts.map((a) => {
        const legs = legsOfAlert(a.id).filter((l) => ["offered", "accepted"].includes(l.status));
        const held = holder(a.id);
        const offered = legs.find((l) => l.status === "offered");
        const items = itemsOf(a.id);
        const rank = rankOf(a.id);
        return h(
          "tr",
          { class: rank >= URGENT_RANK ? "breach" : rank > 0 ? "escalated" : "", dataset: { alert: a.id, rank: String(rank) } },
          h("th", { scope: "row" }, h("button", { type: "button", class: "link", onclick: () => go({ name: "alert", alertId: a.id }) }, a.case_code), a.is_drill ? h("span", { class: "drill" }, t("alert.drill")) : null, a.restricted ? h("span", { class: "restricted-tag" }, t("board.restricted")) : null),
          h("td", {}, tOr(`state.${a.state}`, a.state), offered && !held ? [" ", countdown(offered.deadline_at, "countdown.ack")] : null),
          h("td", {}, a.area_name || t("queue.area_unknown")),
          h("td", {}, legs.map((l) => unitName(l.unit_code)).join(", ") || "—"),
          h("td", {}, held ? unitName(held.unit_code) : t("queue.unclaimed")),
          h("td", { class: "flags" }, items.length ? h("ul", { class: "flag-list" }, items.map((i) => h("li", { dataset: { kind: i.kind } }, "⚠ ", kindName(i)))) : null, a.do_not_call_back ? h("span", {}, t("board.dncb")) : null),
        );
      }),
    ),
  );
  // Open items first (from the server: a reload or a new shift sees all of them), then what
  // the stream brought since the page opened.
  const open = [...attention.values()].sort(byRank);
  const warnings = h(
    "section",
    { "aria-labelledby": "warn-title", class: "warnings" },
    h("h2", { id: "warn-title" }, t("board.warnings")),
    open.length
      ? h("ul", { id: "attention" }, open.map((i) => h("li", { class: i.rank >= URGENT_RANK ? "breach" : "warn", dataset: { kind: i.kind, alert: i.alert_id } }, formatTime(i.raised_at), " ", h("button", { type: "button", class: "link", onclick: () => go({ name: "alert", alertId: i.alert_id }) }, i.case_code), " · ⚠ ", kindName(i), i.detail?.clocks ? ` (${i.detail.clocks.map((c) => tOr(`clock.${c}`, c)).join(", ")})` : "", state.me?.role === "supervisor" ? [" ", h("button", { type: "button", class: "small ack", onclick: (e) => acknowledge(i, e.currentTarget) }, t("attention.acknowledge"))] : null)))
      : h("p", { class: "empty" }, t("attention.none")),
    h("h3", {}, t("board.since_open")),
    state.warnings.length
      ? h("ul", { id: "warnings" }, state.warnings.map((w) => h("li", { class: w.event === "sla.breached" || w.event === "alert.handoff_unacknowledged" ? "breach" : "warn" }, formatTime(w.at), " ", [tOr(`event.${w.event}`, w.event), w.data.clock ? tOr(`clock.${w.data.clock}`, w.data.clock) : null, w.data.case_code || null].filter(Boolean).join(" · "), w.data.phone_fallback ? [" · ", h("a", { href: `tel:${w.data.phone_fallback}` }, t("handoff.call", { phone: w.data.phone_fallback }))] : null)))
      : h("p", { class: "empty" }, t("board.no_warnings")),
  );
  return h(
    "section",
    { class: "board-view", "aria-labelledby": "board-title" },
    h("h1", { id: "board-title" }, t("board.title")),
    h("div", { class: "columns" }, h("div", { class: "col wide" }, table), h("div", { class: "col" }, warnings, inboxSection(), dutySection(), reportSection(), glassSection())),
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
  // A suppressed group (a reader without province-wide sight) has no figures to draw.
  const week = (report.week?.groups || []).filter((g) => !g.suppressed);
  const today = (report.today?.groups || []).filter((g) => !g.suppressed);
  const ack = (g) => g.clocks?.acknowledgement || {};
  return h(
    "section",
    { "aria-labelledby": "report-title", class: "report" },
    h("h2", { id: "report-title" }, t("report.title")),
    h("h3", {}, t("report.week")),
    barChart(week.map((g) => ({ label: formatDay(g.key), value: ack(g).share_met, count: g.alerts }))),
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
