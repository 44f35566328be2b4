// What the page knows, in memory only: reloaded from REST, kept current by stream events.
import { api } from "./session.js";

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
  const ids = [...new Set(page.items.map((leg) => leg.alert_id))];
  await Promise.all(ids.map((id) => loadAlert(id).catch(() => null)));
}

export async function loadAlert(id) {
  const alert = await api("GET", `/v1/alerts/${id}`);
  state.alerts.set(id, alert);
  rememberFix(id, alert.last_location);
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
  if (!last || last.fix_at !== fix.fix_at) trail.push(fix);
  state.trails.set(id, trail.slice(-50));
}

// Every leg of the alert that is still live (offered or claimed), from its routing decisions.
export function legsOfAlert(alertId) {
  const routing = state.routing.get(alertId);
  const fromRouting = routing ? routing.decisions.flatMap((d) => d.legs) : [];
  const legs = new Map(fromRouting.map((leg) => [leg.id, leg]));
  for (const leg of state.legs) if (leg.alert_id === alertId) legs.set(leg.id, leg);
  return [...legs.values()];
}

export function unitName(code) {
  return state.units.get(code)?.name || code;
}

export function myLeg(alertId) {
  const legs = legsOfAlert(alertId).filter((leg) => leg.unit_code === state.me.unit_code);
  const open = legs.find((leg) => ["offered", "accepted"].includes(leg.status));
  return open || legs[legs.length - 1] || null;
}

export function holder(alertId) {
  return legsOfAlert(alertId).find((leg) => leg.status === "accepted") || null;
}
