// What the page knows, in memory only: reloaded from REST, kept current by stream events.
import { api } from "./session.js";
import { t, tOr } from "./i18n.js";

function fresh() {
  return {
    me: null,
    units: new Map(),
    map: null,
    legs: [], // my unit's open offers and claims (supervisors: every unit's)
    alerts: new Map(),
    routing: new Map(),
    trails: new Map(),
    board: [],
    warnings: [],
    seenEvents: 0,
    eventAt: new Map(), // alert id -> the event counter when the stream last named it
    loadedAt: new Map(), // alert id -> the event counter when its last read started
    queueLoadedAt: -1,
    queueFilter: "open", // "open": my active offers and claims; "closed": done
    view: { name: "queue" },
    resumeView: null,
    draftOwner: null,
  };
}

export const state = Object.assign(fresh(), {
  drafts: new Map(), // note drafts per alert: survive a session expiry, never stored
  reset() {
    Object.assign(state, fresh());
  },
});

export async function loadQueue() {
  const started = state.seenEvents;
  const page = await api("GET", `/v1/assignments?status=${state.queueFilter}&limit=100`);
  state.queueLoadedAt = started;
  // Offers the stream announced that this list does not have yet stay (they may be accepted).
  const listed = new Set(page.items.map((leg) => leg.id));
  const announced = state.queueFilter === "open" ? state.legs.filter((leg) => leg.announced && !listed.has(leg.id)) : [];
  state.legs = [...page.items, ...announced];
  // Supervisors see every unit's legs; their alerts come from the board's list instead of one
  // (audited) read per leg.
  if (state.me.province) return;
  const ids = [...new Set(page.items.map((leg) => leg.alert_id))];
  await Promise.all(ids.map((id) => loadAlert(id).catch(() => null)));
}

export async function loadAlert(id, { trail = false } = {}) {
  const started = state.seenEvents;
  const alert = await api("GET", `/v1/alerts/${id}`);
  state.loadedAt.set(id, started);
  state.alerts.set(id, alert);
  // The whole trail is read (and audited) when the view opens and when a new fix arrived;
  // otherwise the fixes seen in passing are appended.
  const known = state.trails.get(id);
  const newest = alert.last_location?.fix_at;
  const stale = !known?.fromServer || (newest && Date.parse(known[known.length - 1]?.fix_at) !== Date.parse(newest));
  const points = trail && stale ? await api("GET", `/v1/alerts/${id}/trail`).catch(() => null) : null;
  if (points) {
    points.fromServer = true;
    state.trails.set(id, points);
  } else {
    rememberFix(id, alert.last_location);
  }
  if (state.me.role !== "transit_staff") {
    const routing = await api("GET", `/v1/alerts/${id}/routing`).catch(() => null);
    if (routing) state.routing.set(id, routing);
  }
  return alert;
}

function rememberFix(id, fix) {
  if (!fix || fix.lat === null) return;
  const trail = state.trails.get(id) || [];
  const last = trail[trail.length - 1];
  if (!last || Date.parse(last.fix_at) !== Date.parse(fix.fix_at)) trail.push(fix);
  if (trail.length > 200) trail.splice(0, trail.length - 200);
  state.trails.set(id, trail);
}

// Every leg of the alert that is still live (offered or claimed), from its routing decisions.
export function legsOfAlert(alertId) {
  const routing = state.routing.get(alertId);
  const fromRouting = routing ? routing.decisions.flatMap((d) => d.legs) : [];
  const legs = new Map(fromRouting.map((leg) => [leg.id, leg]));
  for (const leg of state.legs) if (leg.alert_id === alertId) legs.set(leg.id, leg);
  return [...legs.values()];
}

// The stream named this alert: what the server said one may do may be out of date until the next
// read (``verdict`` then lets accept and decline through, for the server to decide).
export function noteEvent(alertId) {
  if (alertId) state.eventAt.set(alertId, state.seenEvents);
}

// An offer to my unit, straight from ``assignment.offered``: enough to accept it from the queue
// even when nothing else about the alert could be read (reads may be shed; accept never is).
export function rememberOffer(message) {
  const d = message.data || {};
  if (!d.assignment_id || state.legs.some((leg) => leg.id === d.assignment_id)) return;
  state.legs.unshift({
    id: d.assignment_id, alert_id: d.alert_id, case_code: d.case_code, step: d.step, unit_code: d.unit_code,
    leg_kind: d.leg_kind, reason: d.reason, status: "offered", is_drill: d.is_drill, offered_at: message.at,
    deadline_at: d.deadline_at, accepted_at: null, accepted_by: null, announced: true,
  });
}

const FAIL_OPEN = new Set(["accept", "decline"]);

// What the server says the signed-in person may do (``actions`` of the alert's read), for one
// action: { allowed, reason, until, assignment_id }. The console holds no rule of its own. Accept
// and decline of an offer to my unit fail open: unknown (the read failed or was shed) or older
// than the latest event about the alert, they are offered and the server's answer decides.
export function verdict(alertId, name, leg = null) {
  const last = state.eventAt.get(alertId) ?? -1;
  const fromRow = leg?.actions?.[name];
  const fromRead = state.alerts.get(alertId)?.actions?.[name];
  const rowFresh = Boolean(fromRow) && state.queueLoadedAt >= last;
  const readFresh = Boolean(fromRead) && (state.loadedAt.get(alertId) ?? -1) >= last;
  const said = readFresh ? fromRead : rowFresh ? fromRow : fromRead || fromRow;
  if (FAIL_OPEN.has(name) && !(readFresh || rowFresh)) {
    const offer = leg || state.legs.find((g) => g.alert_id === alertId && g.unit_code === state.me.unit_code && g.status === "offered");
    if (offer) return { allowed: true, reason: null, until: offer.deadline_at, assignment_id: offer.id, unconfirmed: true };
  }
  return said || { allowed: false, reason: "unknown" };
}

// A unit whose reference name is English ("Transjakarta control desk") has its name in the
// catalogue (unitname.<code>); the others (posts: proper names) are shown as the server has them.
export function unitName(code) {
  const unit = state.units.get(code);
  return tOr(`unitname.${code}`, unit ? displayName(unit) : code);
}

// A unit's name in the console's language. The reference data names a partner's control desk in
// English ("Transjakarta control desk"): it is shown from its kind and operator instead
// ("Ruang kendali Transjakarta"). A label only: which unit gets what stays the server's.
export function displayName(unit) {
  if (unit.kind === "transit_desk" && !unit.station_uid) {
    const operator = tOr(`partner.${unit.partner_code}`, unit.name.replace(/\s*control desk$/i, "") || unit.partner_code);
    return t("unit.control_desk", { operator });
  }
  return unit.name;
}

export function myLeg(alertId) {
  const legs = legsOfAlert(alertId).filter((leg) => leg.unit_code === state.me.unit_code);
  const open = legs.find((leg) => ["offered", "accepted"].includes(leg.status));
  return open || legs[legs.length - 1] || null;
}

export function holder(alertId) {
  return legsOfAlert(alertId).find((leg) => leg.status === "accepted") || null;
}

// Forget alerts that left the queue, the board and the screen: a console open for days keeps
// only what it shows.
export function prune() {
  const keep = new Set([...state.legs.map((l) => l.alert_id), ...state.board.map((a) => a.id)]);
  if (state.view.alertId) keep.add(state.view.alertId);
  for (const map of [state.alerts, state.routing, state.trails]) {
    for (const id of map.keys()) if (!keep.has(id)) map.delete(id);
  }
}
