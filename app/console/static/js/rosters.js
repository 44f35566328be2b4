// Rosters and units without curl: find a unit, see who is on duty, add and end shifts
// (supervisors, admins), at the post or on call; edit a post's hours, address, phones and
// coordinates (supervisors, admins), and manage staff accounts and integrator clients (admins).
import { h, clear, append } from "./dom.js";
import { t, formatTime, zoneName } from "./i18n.js";
import { api, ApiError } from "./session.js";
import { state, unitName, displayName } from "./state.js";
import { announce } from "./app.js";
import { renderIntegrators } from "./integrators.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
let selected = null;
let filter = "";
const panel = h("div", { id: "unit-panel" });
const users = h("section", { id: "users", "aria-labelledby": "users-title" });

export function renderRosters() {
  const isAdmin = state.me.role === "admin";
  const list = h("ul", { class: "unit-list", id: "unit-list" });
  const search = h("input", { id: "unit-search", type: "search", value: filter, "aria-label": t("units.search"), placeholder: t("units.search") });
  const fill = () => {
    clear(list);
    const needle = filter.toLowerCase();
    for (const unit of [...state.units.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)))) {
      if (needle && !displayName(unit).toLowerCase().includes(needle) && !unit.name.toLowerCase().includes(needle) && !unit.code.includes(needle)) continue;
      list.append(h("li", {}, h("button", { type: "button", class: "link", dataset: { unit: unit.code }, "aria-current": unit.code === selected ? "true" : false, onclick: () => select(unit.code) }, displayName(unit))));
    }
  };
  search.addEventListener("input", () => {
    filter = search.value;
    fill();
  });
  fill();
  if (selected) select(selected);
  if (isAdmin) loadUsers();
  return h(
    "section",
    { class: "rosters", "aria-labelledby": "rosters-title" },
    h("h1", { id: "rosters-title" }, t("units.title")),
    h("div", { class: "columns" }, h("div", { class: "col" }, search, list), h("div", { class: "col wide" }, panel)),
    isAdmin ? users : null,
    isAdmin ? renderIntegrators() : null,
  );
}

async function select(code) {
  selected = code;
  const unit = state.units.get(code);
  const from = new Date(Date.now() - 86400000);
  const to = new Date(Date.now() + 7 * 86400000);
  const [duty, shifts] = await Promise.all([
    api("GET", `/v1/units/${code}/on-duty`).catch(() => null),
    api("GET", `/v1/units/${code}/shifts?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`).catch(() => []),
  ]);
  // Another unit was chosen while these loaded: a late answer must not put this unit's form
  // back on screen, where its hours would be saved as the other unit's edit.
  if (selected !== code) return;
  const error = h("p", { class: "error", role: "alert", id: "unit-error" });
  append(clear(panel), [
    h("h2", { id: "unit-title" }, displayName(unit)),
    duty
      ? h("p", { id: "on-duty" }, duty.open ? t("units.open") : t("units.closed"), " · ", t("units.rostered", { names: duty.rostered.join(", ") || "—" }), " · ", t("units.present", { names: duty.present.join(", ") || "—" }), " · ", t("units.on_call_now", { names: (duty.on_call || []).join(", ") || "—" }))
      : null,
    error,
    unit.takes_drills && unit.lat != null
      ? h("p", {}, h("button", { type: "button", id: "start-drill", onclick: () => run(error, async () => {
          const drill = await api("POST", "/v1/drills", { unit_code: code });
          announce(t("units.drill_started", { code: drill.case_code }));
        }, "units.drill_done", code) }, t("units.start_drill")), " ", h("span", { class: "hint" }, t("units.drill_hint")))
      : h("p", { class: "hint" }, t("units.no_drills")),
    shiftTable(code, shifts, error),
    shiftForm(code, error),
    ["admin", "supervisor"].includes(state.me.role) ? unitForm(unit, error) : h("p", { class: "hint" }, t("units.admin_only")),
  ]);
}

// A supervisor's one-time sign-in unlock for someone on this roster (a counselor on a new phone
// while her account's unknown-devices lane is locked): shown once, to be read out to her.
function unlockButton(s, error, shown) {
  if (!["admin", "supervisor"].includes(state.me.role)) return null;
  const issue = async () => {
    error.textContent = "";
    try {
      const unlock = await api("POST", `/v1/users/${s.staff_id}/sign-in-unlock`);
      shown.textContent = t("users.unlock_done", { user: s.username, code: unlock.code, until: formatTime(unlock.expires_at) });
    } catch (failure) {
      error.textContent = failure instanceof ApiError ? t("error.api", { detail: failure.message }) : t("error.network");
    }
  };
  return h("button", { type: "button", class: "unlock-sign-in", onclick: issue }, t("users.unlock"));
}

function shiftTable(code, shifts, error) {
  if (!shifts.length) return h("p", { class: "empty" }, t("units.no_shifts"));
  const shown = h("p", { id: "unlock-shown", role: "status" });
  return h("div", {}, h(
    "table",
    { id: "shifts" },
    h("caption", {}, t("units.shifts", { zone: zoneName() })),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("units.who")), h("th", { scope: "col" }, t("units.kind")), h("th", { scope: "col" }, t("units.from")), h("th", { scope: "col" }, t("units.to")), h("th", { scope: "col" }, t("units.action")))),
    h("tbody", {}, shifts.map((s) => h("tr", {}, h("td", {}, s.username), h("td", { class: `shift-kind ${s.kind}` }, t(`shift.${s.kind}`)), h("td", {}, formatTime(s.starts_at, true)), h("td", {}, formatTime(s.ends_at, true)), h("td", {}, h("button", { type: "button", class: "end-shift", "aria-label": t("units.end_label", { who: s.username }), onclick: () => run(error, () => api("DELETE", `/v1/shifts/${s.id}`), "units.ended", code) }, t("units.end")), " ", unlockButton(s, error, shown))))),
  ), shown);
}

// Region-local date and time → UTC, through the zone's offset at that moment (from Intl).
function zonedToUtc(date, time) {
  const guess = new Date(`${date}T${time}:00Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zoneName(), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(guess).map((p) => [p.type, p.value]));
  const shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
  return new Date(guess.getTime() - (shown - guess.getTime()));
}

function localToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zoneName() }).format(new Date());
}

function shiftForm(code, error) {
  const who = h("input", { id: "shift-user", required: true });
  const date = h("input", { id: "shift-date", type: "date", value: localToday(), required: true });
  const start = h("input", { id: "shift-start", type: "time", value: "08:00", required: true });
  const hours = h("input", { id: "shift-hours", type: "number", min: 1, max: 168, value: 8, required: true });
  const kind = h("select", { id: "shift-kind", "aria-describedby": "shift-kind-hint" }, ["at_post", "on_call"].map((k) => h("option", { value: k }, t(`shift.${k}`))));
  return h(
    "form",
    { class: "inline-form", id: "shift-form", onsubmit: (event) => {
      event.preventDefault();
      const startsAt = zonedToUtc(date.value, start.value);
      const endsAt = new Date(startsAt.getTime() + Number(hours.value) * 3600000);
      run(error, () => api("POST", `/v1/units/${code}/shifts`, { username: who.value.trim(), starts_at: startsAt.toISOString(), ends_at: endsAt.toISOString(), kind: kind.value }), "units.shift_added", code);
    } },
    h("h3", {}, t("units.add_shift")),
    label("shift-user", t("units.username")), who,
    label("shift-date", t("units.date", { zone: zoneName() })), date,
    label("shift-start", t("units.start")), start,
    label("shift-hours", t("units.hours_long")), hours,
    label("shift-kind", t("units.kind")), kind,
    h("p", { class: "hint", id: "shift-kind-hint" }, t("units.kind_hint")),
    h("button", { type: "submit", id: "shift-add" }, t("units.add_shift")),
  );
}

function label(id, text) {
  return h("label", { for: id }, text);
}

function hoursText(hours, day) {
  return (hours?.weekly?.[day] || []).map(([a, b]) => `${a}-${b}`).join(", ");
}

function unitForm(unit, error) {
  // A post without its own hours keeps the region's default: show those, not an empty week.
  const shown = unit.hours || (unit.kind === "post" ? state.map.default_post_hours : null);
  const always = h("input", { id: "hours-always", type: "checkbox", checked: Boolean(shown?.always_open) });
  const holidays = h("input", { id: "hours-holidays", type: "checkbox", checked: shown ? shown.closed_on_holidays : true });
  const days = DAYS.map((d) => h("input", { id: `hours-${d}`, value: hoursText(shown, d), "aria-label": t(`day.${d}`), "aria-describedby": "hours-hint" }));
  const address = h("input", { id: "unit-address", value: unit.address || "" });
  const phones = h("input", { id: "unit-phones", value: (unit.phones || []).join(", ") });
  const lat = h("input", { id: "unit-lat", type: "number", step: "any", value: unit.lat ?? "" });
  const lon = h("input", { id: "unit-lon", type: "number", step: "any", value: unit.lon ?? "" });
  return h(
    "form",
    { class: "inline-form", id: "unit-form", onsubmit: (event) => {
      event.preventDefault();
      const weekly = {};
      for (const [i, d] of DAYS.entries()) {
        const value = days[i].value.trim();
        if (value) weekly[d] = value.split(",").map((span) => span.trim().split("-").map((x) => x.trim()));
      }
      const body = { hours: { always_open: always.checked, closed_on_holidays: holidays.checked, weekly }, address: address.value.trim() || null, phones: phones.value.split(",").map((p) => p.trim()).filter(Boolean) };
      if (lat.value !== "" && lon.value !== "") Object.assign(body, { lat: Number(lat.value), lon: Number(lon.value) });
      run(error, async () => {
        const saved = await api("PATCH", `/v1/units/${unit.code}`, body);
        state.units.set(saved.code, saved);
      }, "units.saved", unit.code);
    } },
    h("h3", {}, t("units.edit")),
    h("fieldset", {}, h("legend", {}, t("units.hours", { zone: zoneName() })),
      h("label", {}, always, " ", t("units.always_open")),
      h("label", {}, holidays, " ", t("units.closed_holidays")),
      h("p", { class: "hint", id: "hours-hint" }, t(unit.hours ? "units.hours_hint" : "units.hours_default")),
      h("div", { class: "days" }, DAYS.map((d, i) => h("label", {}, h("span", {}, t(`day.${d}`)), days[i])))),
    label("unit-address", t("units.address")), address,
    label("unit-phones", t("units.phones")), phones,
    label("unit-lat", t("units.lat")), lat,
    label("unit-lon", t("units.lon")), lon,
    h("button", { type: "submit", id: "unit-save", class: "primary" }, t("units.save")),
  );
}

async function run(error, work, doneKey, code) {
  error.textContent = "";
  try {
    await work();
    announce(t(doneKey));
    if (code) await select(code);
    const done = document.getElementById("unit-error");
    if (done) done.textContent = "";
    const status = document.getElementById("unit-done");
    if (status) status.textContent = t(doneKey);
    else panel.prepend(h("p", { id: "unit-done", role: "status", class: "ok" }, t(doneKey)));
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? t("error.api", { detail: failure.message }) : t("error.network");
  }
}

async function loadUsers() {
  const page = await api("GET", "/v1/users?limit=100").catch(() => ({ items: [] }));
  const error = h("p", { class: "error", role: "alert", id: "user-error" });
  const roleSelect = h("select", { id: "new-role" }, ["counselor", "paralegal", "transit_staff", "supervisor", "admin"].map((r) => h("option", { value: r }, t(`role.${r}`))));
  const unitSelect = h("select", { id: "new-unit" }, [...state.units.values()].map((u) => h("option", { value: u.code }, displayName(u))));
  const fields = { username: h("input", { id: "new-username", required: true, pattern: "[a-z0-9._\\-]{3,64}" }), name: h("input", { id: "new-name" }), password: h("input", { id: "new-password", type: "password", minlength: 12, required: true, autocomplete: "new-password" }) };
  const refresh = () => loadUsers();
  append(clear(users), [
    h("h2", { id: "users-title" }, t("users.title")),
    error,
    h("table", { id: "user-table" }, h("thead", {}, h("tr", {}, ["users.username", "users.name", "users.role", "users.unit", "users.status", "units.action"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, page.items.map((u) => h("tr", { dataset: { user: u.username } },
        h("td", {}, u.username), h("td", {}, u.display_name || ""), h("td", {}, t(`role.${u.role}`)), h("td", {}, u.unit_code ? unitName(u.unit_code) : "—"),
        h("td", {}, u.disabled ? t("users.disabled") : t("users.active")),
        h("td", {},
          h("button", { type: "button", class: "toggle-user", onclick: (event) => {
            const toggle = () => userAction(error, () => api("PATCH", `/v1/users/${u.id}`, { disabled: !u.disabled }), u.disabled ? "users.enabled_done" : "users.disabled_done", refresh);
            // Disabling signs the person out and keeps them out: asked once more, naming them.
            if (u.disabled) return toggle();
            const cell = event.currentTarget.parentElement;
            const keep = [...cell.childNodes];
            const back = () => cell.replaceChildren(...keep);
            cell.replaceChildren(h("span", { class: "confirm-text", role: "alert" }, t("users.confirm_disable", { name: u.display_name || u.username })), " ",
              h("button", { type: "button", class: "confirm-disable primary", onclick: () => { back(); toggle(); } }, t("confirm.yes")), " ",
              h("button", { type: "button", class: "confirm-back", onclick: back }, t("confirm.no")));
            cell.querySelector(".confirm-disable").focus();
          } }, u.disabled ? t("users.enable") : t("users.disable")),
          " ",
          h("button", { type: "button", class: "reset-password", onclick: () => {
            const password = window.prompt(t("users.new_password_prompt", { user: u.username }));
            if (password) userAction(error, () => api("POST", `/v1/users/${u.id}/password`, { password }), "users.password_done", refresh);
          } }, t("users.reset_password"))))))),
    h("form", { class: "inline-form", id: "user-form", onsubmit: (event) => {
      event.preventDefault();
      const body = { username: fields.username.value.trim(), password: fields.password.value, role: roleSelect.value, unit_code: unitSelect.value, display_name: fields.name.value.trim() || null };
      userAction(error, () => api("POST", "/v1/users", body), "users.created", refresh);
    } },
      h("h3", {}, t("users.create")),
      label("new-username", t("users.username")), fields.username,
      label("new-name", t("users.name")), fields.name,
      label("new-role", t("users.role")), roleSelect,
      label("new-unit", t("users.unit")), unitSelect,
      label("new-password", t("users.password")), fields.password,
      h("button", { type: "submit", id: "user-create" }, t("users.create"))),
  ]);
}

async function userAction(error, work, doneKey, then) {
  error.textContent = "";
  try {
    await work();
    announce(t(doneKey));
    await then();
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? t("error.api", { detail: failure.message }) : t("error.network");
  }
}
