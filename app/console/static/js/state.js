// What the page knows, in memory only: reloaded from REST, kept current by stream events.
import { api } from "./session.js";
import { tOr } from "./i18n.js";

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
  const page = await api("GET", "/v1/assignments?status=open&limit=100");
  state.legs = page.items;
  // Supervisors see every unit's legs; their alerts come from the board's list instead of one
  // (audited) read per leg.
  if (state.me.province) return;
  const ids = [...new Set(page.items.map((leg) => leg.alert_id))];
  await Promise.all(ids.map((id) => loadAlert(id).catch(() => null)));
}

export async function loadAlert(id, { trail = false } = {}) {
  const alert = await api("GET", `/v1/alerts/${id}`);
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

// A unit whose reference name is English ("Transjakarta control desk") has its name in the
// catalogue (unitname.<code>); the others (posts: proper names) are shown as the server has them.
export function unitName(code) {
  return tOr(`unitname.${code}`, state.units.get(code)?.name || code);
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
