// One alert: who and where, the map, why it was routed here, the actions the state allows (each
// disabled with its reason otherwise), the legal clocks, the timeline and the notes.
import { h, clear, append, repaintKeeping } from "./dom.js";
const appendTo = (el, ...children) => append(el, children);
import { t, tOr, formatTime, formatDistance, formatNumber } from "./i18n.js";
import { api, ApiError, NetworkError } from "./session.js";
import { state, loadAlert, myLeg, holder, unitName, loadQueue, verdict } from "./state.js";
import { countdown } from "./countdown.js";
import { drawMap } from "./map.js";
import { go, announce } from "./app.js";

const ORDER = ["received", "routed", "acknowledged", "contacted", "on_scene", "handed_over", "resolved"];
const DISPOSITIONS = ["assisted", "referred_police", "referred_health", "referred_shelter", "false_alarm", "accidental", "duplicate", "unreachable", "cancelled_by_victim"];
const HANDOVER = ["police", "health", "shelter", "counselor", "other"];
const RESTRICTION_REASONS = ["staff_member", "protected_witness", "public_figure", "other"];
let sections = null;
let heartbeat = null;
let glassTimer = null;
let extra = { timeline: [], notes: [], clocks: [] };

export function renderAlert(alertId) {
  sections = {
    id: alertId,
    summary: h("div", { id: "alert-summary" }),
    actions: h("section", { id: "alert-actions", class: "actions", "aria-labelledby": "actions-title" }),
    map: h("section", { id: "alert-map", class: "map-box", "aria-labelledby": "map-title" }),
    routing: h("section", { id: "alert-routing", "aria-labelledby": "routing-title" }),
    clocks: h("section", { id: "alert-clocks", "aria-labelledby": "clocks-title" }),
    timeline: h("section", { id: "alert-timeline", "aria-labelledby": "timeline-title" }),
    notes: h("div", { id: "alert-notes-list" }),
    error: h("p", { class: "error", role: "alert", id: "action-error" }),
    confirm: null,
  };
  const transit = state.me.role === "transit_staff";
  const back = h("button", { type: "button", class: "back", id: "back", onclick: () => go({ name: state.me.province ? "board" : "queue" }) }, t("alert.back"));
  const root = h(
    "article",
    { class: transit ? "alert-view transit" : "alert-view", "aria-labelledby": "alert-title" },
    back,
    sections.summary,
    sections.error,
    sections.actions,
    h("div", { class: "columns" }, h("div", { class: "col" }, sections.map, transit ? null : sections.routing), h("div", { class: "col" }, sections.clocks, sections.timeline, transit ? null : notesBox(alertId))),
  );
  refreshAlert().catch(showError);
  clearInterval(heartbeat);
  // The claim heartbeat: while this alert is open, its lease is renewed every minute.
  heartbeat = setInterval(() => {
    const leg = myLeg(alertId);
    if (leg?.status === "accepted" && leg.accepted_by === state.me.id) {
      api("POST", `/v1/assignments/${leg.id}/heartbeat`).catch(() => {});
    }
  }, 60000);
  return root;
}

export function stopAlert() {
  clearInterval(heartbeat);
  clearTimeout(glassTimer);
  sections = null;
}

// One refresh at a time, and one more if asked meanwhile: two overlapping refreshes could paint
// an older read of the alert over a newer timeline.
let running = null;
let again = false;
export function refreshAlert() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      await loadEverything();
    } while (again);
  })().finally(() => {
    running = null;
  });
  return running;
}

async function loadEverything() {
  if (!sections) return;
  const id = sections.id;
  try {
    await loadAlert(id, { trail: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      // A link from an on-call message opened after this unit's leg closed: say where the
      // alert went (unit codes only, all the unit may still know), not an error.
      const passed = await api("GET", `/v1/alerts/${id}/passed-on`).catch(() => null);
      let text = t("alert.gone");
      if (passed?.passed_to?.length) text = t("alert.passed_to", { units: passed.passed_to.map(unitName).join(", ") });
      else if (passed?.alert_closed) text = t("alert.passed_closed");
      appendTo(clear(sections.summary), h("h1", { id: "alert-title", class: passed ? "passed-on" : null }, text));
      clear(sections.actions);
      sections.map.closest(".columns")?.setAttribute("hidden", "");
      return;
    }
    // The read failed (shed under load, the server busy): an offer to my unit can still be
    // accepted from what the stream said; the server's answer decides.
    if (!state.alerts.has(id) && verdict(id, "accept").allowed) paintAcceptOnly(id);
    throw error;
  }
  const transit = state.me.role === "transit_staff";
  const [timeline, notes, clocks] = await Promise.all([
    api("GET", `/v1/alerts/${id}/timeline`).catch(() => []),
    transit ? [] : api("GET", `/v1/alerts/${id}/notes`).catch(() => []),
    api("GET", `/v1/alerts/${id}/sla`).catch(() => []),
  ]);
  extra = { timeline, notes, clocks };
  if (sections?.id === id) paint();
}

function paint() {
  const alert = state.alerts.get(sections.id);
  if (!alert) return;
  paintSummary(alert);
  paintActions(alert);
  appendTo(clear(sections.map), h("h2", { id: "map-title" }, t("map.title")), drawMap(alert, state.trails.get(alert.id) || []));
  if (state.me.role !== "transit_staff") paintRouting(alert);
  paintClocks();
  paintTimeline();
  paintNotes();
}

// 112 was handed the alert and has not said it took it: the supervisor phones 112 (the number
// the server sends), until a 112 status arrives (accepted, dispatched, on scene, closed).
const HANDOFF_ACKS = new Set(["accepted", "dispatched", "on_scene", "closed"]);
function handoffBanner() {
  const events = extra.timeline;
  const last = events.findLastIndex((e) => e.event === "alert.handoff_unacknowledged");
  if (last < 0) return null;
  const acked = events.slice(last + 1).some((e) => e.event === "alert.partner_status" && e.data?.partner === "112" && HANDOFF_ACKS.has(e.data?.status));
  if (acked) return null;
  const phone = events[last].data?.phone_fallback || "112";
  return h("p", { class: "dncb handoff", role: "alert", id: "handoff-unacknowledged" }, h("strong", {}, t("handoff.title")), " ", t("handoff.text"), " ", h("a", { href: `tel:${phone}`, id: "handoff-phone" }, t("handoff.call", { phone })));
}

function paintSummary(alert) {
  const transit = state.me.role === "transit_staff";
  const station = alert.station_candidates?.find((s) => s.at_station);
  const ctx = alert.transit_context;
  const fix = alert.last_location;
  const items = [
    [t("alert.state"), tOr(`state.${alert.state}`, alert.state)],
    [t("alert.area"), alert.area_name || t("queue.area_unknown")],
    ctx || station ? [t("alert.transit"), [ctx?.operator, ctx?.station || station?.name, ctx?.vehicle, ctx?.route].filter(Boolean).join(" · ")] : null,
    fix?.place ? [t("alert.place"), placeWords(fix.place, alert.area_name)] : null,
    fix ? [t("alert.location"), t("alert.location_value", { lat: fix.lat.toFixed(5), lon: fix.lon.toFixed(5), acc: Math.round(fix.accuracy_m ?? 0), time: formatTime(fix.fix_at) })] : [t("alert.location"), t("alert.no_location")],
    [t("alert.received"), formatTime(alert.received_at, true)],
    transit ? null : [t("alert.reporter"), tOr(`reporter.${alert.reporter}`, alert.reporter)],
    !transit && alert.victim_is_child ? [t("alert.child"), t("alert.child_yes")] : null,
    !transit && alert.contact ? [t("alert.contact"), Object.values(alert.contact).join(" · ")] : null,
    !transit && alert.message ? [t("alert.message"), alert.message] : null,
    !transit && alert.companion_preference ? [t("alert.companion"), tOr(`sex.${alert.companion_preference}`, alert.companion_preference)] : null,
  ].filter(Boolean);
  // The grant ends on the server at glass_until: repaint then, so the record closes on screen too.
  clearTimeout(glassTimer);
  if (alert.glass_until) glassTimer = setTimeout(() => refreshAlert().catch(showError), Math.max(0, Date.parse(alert.glass_until) - Date.now()) + 500);
  appendTo(clear(sections.summary), 
    h("h1", { id: "alert-title", tabindex: "-1" }, t("alert.title", { code: alert.case_code }), alert.is_drill ? h("span", { class: "drill" }, t("alert.drill")) : null),
    alert.restricted
      ? h("p", { class: "restricted", id: "restricted" }, h("strong", {}, t("restricted.title")), " ", tOr(`restricted.reason.${alert.restriction_reason}`, alert.restriction_reason || ""), ". ", t("restricted.text"), alert.glass_until ? [" ", t("restricted.glass_until", { time: formatTime(alert.glass_until) })] : null)
      : null,
    alert.do_not_call_back ? h("p", { class: "dncb", role: "alert", id: "dncb" }, h("strong", {}, t("alert.dncb_title")), " ", t("alert.dncb_text")) : null,
    handoffBanner(),
    h("dl", { class: "facts" }, items.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    progressBar(alert.state),
  );
}

// The location in words, as the server described it, and a geo: link that opens the phone's own
// map app (on a desktop, whatever handles geo: links, if anything).
function placeWords(place, kecamatan) {
  const where = [place.kelurahan ? t("alert.kelurahan", { name: place.kelurahan }) : null, kecamatan].filter(Boolean).join(", ");
  const near = place.landmark
    ? t("alert.landmark", { distance: formatDistance(place.landmark.distance_m), direction: t(`dir.${place.landmark.direction}`), name: place.landmark.name })
    : null;
  return [
    h("span", { id: "place-words" }, [where, near].filter(Boolean).join(" · ")),
    " ",
    h("a", { href: place.geo_uri, id: "place-open-map", class: "map-link" }, t("alert.open_in_maps")),
  ];
}

// Steps are ticked from what happened (the timeline), not from the order alone: "on scene"
// does not mean the victim was contacted first.
function progressBar(current) {
  const at = ORDER.indexOf(current);
  const seen = new Set(extra.timeline.map((e) => e.event.replace(/^alert\./, "")));
  const done = (name, i) => name === current || (i <= ORDER.indexOf("acknowledged") && i <= at) || seen.has(name);
  return h(
    "ol",
    { class: "progress", "aria-label": t("alert.progress") },
    ORDER.map((name, i) => h("li", { class: done(name, i) ? "done" : "", "aria-current": name === current ? "step" : false }, done(name, i) ? h("span", { class: "tick", "aria-hidden": "true" }) : "", tOr(`state.${name}`, name))),
  );
}

// Why an action is not open, in words: the server's reason code (``actions`` of the alert).
function whyNot(v) {
  return v.allowed ? null : tOr(`why.${v.reason}`, t("why.unknown"));
}

// A button for one action, enabled and explained exactly as the server's verdict says.
function button(id, label, v, run, cls = "") {
  const reason = whyNot(v);
  return h("div", { class: "action" }, h("button", { type: "button", id, class: cls, disabled: Boolean(reason), "aria-describedby": reason ? `${id}-why` : false, onclick: run }, label), reason ? h("span", { class: "why", id: `${id}-why` }, reason) : null);
}

function paintActions(alert) {
  const v = (name) => verdict(alert.id, name);
  const transit = state.me.role === "transit_staff";
  const buttons = [];
  const accept = v("accept");
  buttons.push(button("act-accept", t(transit ? "transit.ack" : "action.accept"), accept, () => act(`/v1/assignments/${accept.assignment_id}/accept`, undefined, "done.accepted"), "primary"));
  if (!transit) {
    const decline = v("decline");
    const reason = h("input", { id: "decline-reason", "aria-label": t("action.decline_reason"), placeholder: t("action.decline_reason"), minlength: 2, maxlength: 200, disabled: !decline.allowed });
    buttons.push(h("div", { class: "action" }, reason, button("act-decline", t("action.decline"), decline, () => {
      if (reason.value.trim().length < 2) return showError(new Error(t("action.decline_need_reason")));
      return act(`/v1/assignments/${decline.assignment_id}/decline`, { reason: reason.value.trim() }, "done.declined", ["decline-reason"]);
    })));
    buttons.push(button("act-contacted", t("action.contacted"), v("contacted"), () => act(`/v1/alerts/${alert.id}/progress`, { milestone: "contacted" }, "done.contacted")));
  }
  buttons.push(button("act-on-scene", t("action.on_scene"), v("on_scene"), () => act(`/v1/alerts/${alert.id}/progress`, { milestone: "on_scene" }, "done.on_scene")));
  if (transit) {
    buttons.push(button("act-handed-counselor", t("transit.handed"), v("hand_to_counselor"), () => confirmThen(t("confirm.hand_to_counselor"), () => act(`/v1/alerts/${alert.id}/hand-to-counselor`, undefined, "done.handed_over"))));
  } else {
    // Nothing is chosen for the person: the hand-over's target and the outcome are picked, then
    // confirmed in words that name what will happen.
    const handed = v("handed_over");
    const to = h("select", { id: "handover-to", "aria-label": t("action.handover_to"), disabled: !handed.allowed }, h("option", { value: "" }, t("action.choose")), HANDOVER.map((x) => h("option", { value: x }, t(`handover.${x}`))));
    buttons.push(h("div", { class: "action" }, to, button("act-handed-over", t("action.handed_over"), handed, () => {
      if (!to.value) return showError(new Error(t("action.choose_handover")));
      return confirmThen(t("confirm.handed_over", { to: t(`handover.${to.value}`) }), () => act(`/v1/alerts/${alert.id}/progress`, { milestone: "handed_over", handed_over_to: to.value }, "done.handed_over"));
    })));
    const resolve = v("resolve");
    const disposition = h("select", { id: "disposition", "aria-label": t("action.disposition"), disabled: !resolve.allowed }, h("option", { value: "" }, t("action.choose")), DISPOSITIONS.map((x) => h("option", { value: x }, t(`disposition.${x}`))));
    buttons.push(h("div", { class: "action" }, disposition, button("act-resolve", t("action.resolve"), resolve, () => {
      if (!disposition.value) return showError(new Error(t("action.choose_disposition")));
      return confirmThen(t("confirm.resolve", { code: alert.case_code, outcome: t(`disposition.${disposition.value}`) }), () => act(`/v1/alerts/${alert.id}/resolve`, { disposition: disposition.value }, "done.resolved"));
    })));
  }
  if (state.me.province) buttons.push(supervisorActions(alert));
  if (!transit) buttons.push(confidentiality(alert));
  const leg = myLeg(alert.id);
  repaintKeeping(sections.actions, () => appendTo(clear(sections.actions), h("h2", { id: "actions-title" }, t("action.title")), leg?.status === "offered" ? countdown(leg.deadline_at, "countdown.ack") : null, takenUp(), h("div", { class: "buttons" }, buttons), sections.confirm || null));
}

function paintAcceptOnly(alertId) {
  const accept = verdict(alertId, "accept");
  const transit = state.me.role === "transit_staff";
  repaintKeeping(sections.actions, () => appendTo(clear(sections.actions), h("h2", { id: "actions-title" }, t("action.title")), h("div", { class: "buttons" }, button("act-accept", t(transit ? "transit.ack" : "action.accept"), accept, () => act(`/v1/assignments/${accept.assignment_id}/accept`, undefined, "done.accepted"), "primary"))));
}

// A guard who handed the victim over sees when the counselor took it up (from the timeline).
function takenUp() {
  const taken = extra.timeline.findLast((e) => e.event === "assignment.taken_up");
  const handed = extra.timeline.findLast((e) => e.event === "assignment.handed_over");
  if (taken) return h("p", { class: "taken-up", id: "taken-up", role: "status" }, t("legs.taken_up", { unit: unitName(taken.data?.by_unit_code), time: formatTime(taken.at) }));
  if (handed) return h("p", { class: "taken-up", id: "taken-up", role: "status" }, t("legs.handed_waiting", { time: formatTime(handed.at) }));
  return null;
}

// Asks "are you sure?" in words that say what will happen; the action runs only on "yes".
function confirmThen(text, run) {
  const view = sections;
  const close = () => {
    view.confirm = null;
    paint();
  };
  view.confirm = h("div", { class: "confirm", id: "confirm", role: "alertdialog", "aria-labelledby": "confirm-text" },
    h("p", { id: "confirm-text" }, text),
    h("button", { type: "button", id: "confirm-yes", class: "primary", onclick: () => { close(); run(); } }, t("confirm.yes")),
    h("button", { type: "button", id: "confirm-no", onclick: close }, t("confirm.no")));
  paint();
  document.getElementById("confirm-yes")?.focus();
}

function supervisorActions(alert) {
  const reason = h("input", { id: "sup-reason", "aria-label": t("sup.reason"), placeholder: t("sup.reason"), maxlength: 200 });
  // Nothing is chosen for the supervisor (and a long unit name chosen by default would not fit a
  // phone's width: the open list shows names whole).
  const unit = h("select", { id: "reassign-unit", "aria-label": t("sup.unit") }, h("option", { value: "" }, t("action.choose")), [...state.units.values()].filter((u) => u.kind !== "transit_desk" && u.active).map((u) => h("option", { value: u.code }, unitName(u.code))));
  const need = (min = 2) => {
    if (reason.value.trim().length < min) {
      showError(new Error(t("sup.need_reason")));
      return false;
    }
    return true;
  };
  const broken = verdict(alert.id, "break_claim");
  const reopen = verdict(alert.id, "reopen");
  return h(
    "fieldset",
    { class: "supervisor" },
    h("legend", {}, t("sup.title")),
    reason,
    h("div", { class: "action" }, unit, button("act-reassign", t("sup.reassign"), verdict(alert.id, "reassign"), () => need() && (unit.value || showError(new Error(t("sup.choose_unit")))) && act(`/v1/alerts/${alert.id}/reassign`, { unit_code: unit.value, reason: reason.value.trim() }, "done.reassigned", ["sup-reason"]))),
    button("act-break", t("sup.break"), broken, () => need() && act(`/v1/assignments/${broken.assignment_id}/break`, { reason: reason.value.trim() }, "done.broken", ["sup-reason"])),
    button("act-reopen", reopen.until && reopen.allowed ? t("sup.reopen_until", { time: formatTime(reopen.until, true) }) : t("sup.reopen"), reopen, () => need(5) && confirmThen(t("confirm.reopen", { code: alert.case_code }), () => act(`/v1/alerts/${alert.id}/reopen`, { reason: reason.value.trim() }, "done.reopened", ["sup-reason"]))),
  );
}

// Restricting (the unit holding the claim, a supervisor), lifting (a supervisor) and breaking
// the glass (a supervisor, with a written reason). The server decides; this only offers.
function confidentiality(alert) {
  const held = holder(alert.id);
  const ours = held && held.unit_code === state.me.unit_code;
  const supervisor = state.me.role === "supervisor";
  const parts = [];
  if (alert.break_glass) {
    const min = alert.break_glass.min_reason_length;
    const reason = h("textarea", { id: "glass-reason", rows: 2, minlength: min, maxlength: 500, "aria-label": t("glass.reason"), placeholder: t("glass.reason") });
    const submit = () => {
      const text = reason.value.trim();
      if (text.length < min || new Set(text.toLowerCase().split(/\s+/)).size < 3) return showError(new Error(t("glass.need_reason")));
      return act(alert.break_glass.href, { reason: text }, "done.glass", ["glass-reason"]);
    };
    parts.push(h("div", { class: "action" }, reason, h("button", { type: "button", id: "act-break-glass", class: "primary", onclick: submit }, t("glass.submit"))));
  }
  if (!alert.restricted && (supervisor || ours)) {
    const why = h("select", { id: "restrict-reason", "aria-label": t("restrict.reason") }, RESTRICTION_REASONS.map((r) => h("option", { value: r }, t(`restricted.reason.${r}`))));
    parts.push(h("div", { class: "action" }, why, h("button", { type: "button", id: "act-restrict", onclick: () => act(`/v1/alerts/${alert.id}/restriction`, { restricted: true, reason: why.value }, "done.restricted") }, t("restrict.submit"))));
  }
  if (alert.restricted && supervisor && !alert.break_glass) { // lifting takes seeing it whole
    parts.push(h("div", { class: "action" }, h("button", { type: "button", id: "act-lift", onclick: () => act(`/v1/alerts/${alert.id}/restriction`, { restricted: false }, "done.unrestricted") }, t("restrict.lift"))));
  }
  if (!parts.length) return null;
  return h("fieldset", { class: "supervisor", id: "confidentiality" }, h("legend", {}, t(alert.break_glass ? "glass.title" : "restrict.title")), parts);
}

// ``spent``: the ids of the fields whose text the action sent. Once it is done that text is
// spent, unless it was changed meanwhile (the repaint keeps what is still being typed).
async function act(path, body, doneKey, spent = []) {
  const view = sections;
  sections.error.textContent = "";
  try {
    await api("POST", path, body);
    if (sections === view) {
      for (const id of spent) {
        const field = view.actions.querySelector(`#${CSS.escape(id)}`);
        if (field && field.value.trim() === body?.reason) field.value = "";
      }
    }
    announce(t(doneKey));
    await loadQueue().catch(() => {});
    await refreshAlert();
    document.getElementById("alert-title")?.focus?.();
  } catch (error) {
    showError(error);
  }
}

// A refusal says why in the words of its reason code (the same as the button would have shown).
// A fetch that never reached the server rejects with a TypeError ("Failed to fetch", the
// browser's words): the console says it in its own.
function showError(error) {
  if (!sections) return;
  const reason = error instanceof ApiError ? error.problem?.reason : null;
  sections.error.textContent = reason ? tOr(`why.${reason}`, error.message) : error instanceof NetworkError || error instanceof TypeError || !error.message ? t("error.network") : error instanceof ApiError ? t("error.api", { detail: error.message }) : error.message;
}

// Each step of the routing explanation in words: what started it (the first routing, an
// escalation, a supervisor's reassignment with their reason) and, per unit offered, why and how
// far. Control desks and the central desk serve everywhere: they say so instead of a distance.
function paintRouting(alert) {
  const routing = state.routing.get(alert.id);
  const list = h("ol", { class: "routing" });
  for (const decision of routing?.decisions || []) {
    const d = decision.decision || {};
    const lines = [];
    // A re-offer to one named unit explains no ladder: its leg is the one offered at that step.
    const legs = d.legs || (d.reoffer ? (decision.legs || []).map((g) => ({ unit_code: g.unit_code, kind: g.leg_kind, reason: null, eta_s: null })) : []);
    for (const leg of legs) {
      const cand = (d.candidates || []).find((c) => c.code === leg.unit_code);
      lines.push(offeredLine(leg, cand, decision.trigger));
      // Which availability answered for the unit: consoles at the post, on-call people, or both.
      const modes = d.availability?.[leg.unit_code] || {};
      if (modes.at_post) lines.push(`${unitName(leg.unit_code)}: ${t("routing.mode_at_post", { n: modes.at_post })}`);
      if (modes.on_call) lines.push(`${unitName(leg.unit_code)}: ${t("routing.mode_on_call", { n: modes.on_call })}`);
    }
    if (d.reoffer?.note) lines.push(t("routing.reassign_reason", { note: d.reoffer.note }));
    const chosen = new Set((d.legs || []).map((l) => l.unit_code));
    const firstChosen = (d.candidates || []).findIndex((c) => chosen.has(c.code));
    const skipped = (d.candidates || []).slice(0, firstChosen < 0 ? 3 : firstChosen).filter((c) => !c.available).slice(0, 3);
    for (const c of skipped) lines.push(t("routing.skipped", { unit: unitName(c.code), why: tOr(`skip.${c.skip_reason}`, c.skip_reason) }));
    if (d.transit) lines.push(t("routing.transit", { partner: unitName(d.transit.partner_code), unit: d.transit.unit_code ? unitName(d.transit.unit_code) : t("routing.nobody") }));
    if (d.reoffer) lines.push(t("routing.reoffer", { unit: unitName(d.reoffer.unit_code), why: d.reoffer.note || t("routing.reoffer_no_note") }));
    if (d.fallback) lines.push(tOr(`fallback.${d.fallback}`, d.fallback));
    if (d.uncertain) lines.push(t("routing.uncertain"));
    list.append(h("li", {}, h("strong", {}, stepTitle(decision)), h("ul", {}, lines.map((l) => h("li", {}, l)))));
  }
  appendTo(clear(sections.routing), h("h2", { id: "routing-title" }, t("routing.title")), list);
}

// A step's title: the first routing, an escalation (numbered from 1), or a re-offer to one named
// unit (a supervisor's reassignment, a lapsed or broken hold, a reopening).
function stepTitle(decision) {
  const time = formatTime(decision.created_at);
  const trigger = tOr(`trigger.${decision.trigger}`, decision.trigger);
  const reoffer = decision.decision?.reoffer;
  const named = reoffer?.unit_code || decision.legs?.[0]?.unit_code;
  if (decision.trigger === "reassigned" && named) return t("routing.step_reassigned", { unit: unitName(named), time });
  if (reoffer && named) return t("routing.step_reoffer", { unit: unitName(named), trigger, time });
  if (decision.step === 0) return t("routing.step_first", { trigger, time });
  return t("routing.step_escalation", { n: decision.step, trigger, time });
}

// One unit offered: its reason and distance, or why it has none (a control desk or the central
// desk serves the whole network or region), never a placeholder.
function offeredLine(leg, cand, trigger) {
  const unit = unitName(leg.unit_code);
  const reason = leg.reason ? tOr(`reason.${leg.reason}`, leg.reason) : tOr(`trigger.${trigger}`, trigger);
  const kind = state.units.get(leg.unit_code)?.kind;
  if (cand?.distance_m != null) {
    const distance = formatDistance(cand.distance_m);
    return leg.eta_s != null ? t("routing.offered", { unit, reason, distance, min: formatNumber(Math.max(1, Math.round(leg.eta_s / 60))) }) : t("routing.offered_distance", { unit, reason, distance });
  }
  if (leg.kind === "central" || kind === "central_desk") return t("routing.offered_central", { unit, reason });
  if (leg.reason === "control_desk" || (kind === "transit_desk" && !state.units.get(leg.unit_code)?.station_uid)) return t("routing.offered_control_desk", { unit, reason });
  return t("routing.offered_plain", { unit, reason });
}

function paintClocks() {
  const rows = extra.clocks.filter((c) => !c.excluded);
  appendTo(clear(sections.clocks), 
    h("h2", { id: "clocks-title" }, t("clocks.title")),
    rows.length
      ? h("ul", { class: "clocks" }, rows.map((c) => h("li", { class: `clock clock-${c.status}` }, h("span", {}, tOr(`clock.${c.clock}`, c.clock)), " ", h("span", { class: "clock-status" }, tOr(`clockstatus.${c.status}`, c.status)), " ", ["running", "warning"].includes(c.status) ? countdown(c.deadline_at) : clockEnd(c))))
      : h("p", { class: "empty" }, t("clocks.none")),
  );
}

// When a clock stopped: a met or breached deadline shows its time; a clock closed with its alert
// (on scene never reached before resolving) has no time of its own: its status says it closed.
function clockEnd(c) {
  if (c.status === "closed") return null;
  const at = c.stopped_at || c.deadline_at;
  return at ? h("span", {}, formatTime(at, true)) : null;
}

function paintTimeline() {
  appendTo(clear(sections.timeline), 
    h("h2", { id: "timeline-title" }, t("timeline.title")),
    h("ol", { class: "timeline", id: "timeline" }, extra.timeline.map((e) => h("li", { dataset: { event: e.event } }, h("time", { datetime: e.at }, formatTime(e.at)), " ", tOr(`event.${e.event}`, e.event), e.data?.unit_code ? ` · ${unitName(e.data.unit_code)}` : ""))),
  );
}

function notesBox(alertId) {
  const area = h("textarea", { id: "note-text", rows: 3, maxlength: 4000, "aria-labelledby": "notes-title" });
  area.value = state.drafts.get(alertId) || "";
  area.addEventListener("input", () => state.drafts.set(alertId, area.value));
  const save = h("button", { type: "button", id: "note-save", onclick: async () => {
    const text = area.value.trim();
    if (!text) return;
    try {
      await api("POST", `/v1/alerts/${alertId}/notes`, { text });
      area.value = "";
      state.drafts.delete(alertId);
      announce(t("done.note"));
      await refreshAlert();
    } catch (error) {
      showError(error);
    }
  } }, t("notes.save"));
  return h("section", { class: "notes", "aria-labelledby": "notes-title" }, h("h2", { id: "notes-title" }, t("notes.title")), sections.notes, area, save);
}

function paintNotes() {
  appendTo(clear(sections.notes), extra.notes.length ? h("ul", {}, extra.notes.map((n) => h("li", {}, h("time", { datetime: n.created_at }, formatTime(n.created_at, true)), " ", n.text ?? t("notes.withheld")))) : h("p", { class: "empty" }, t("notes.none")));
}
