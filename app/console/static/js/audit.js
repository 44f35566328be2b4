// The audit trail for supervisors and admins: who read, changed, exported or was refused which
// record, and when. The server decides what the asker may see of the trail (admins: only
// administration; a restricted record's entries only through the glass) and audits each query;
// this screen only asks and shows. "Data-subject view" asks for roles and units, never names.
import { h, clear, append } from "./dom.js";
import { t, formatTime } from "./i18n.js";
import { api, ApiError } from "./session.js";

const KINDS = ["read", "write", "export", "denied", "break_glass"];
const section = h("section", { id: "audit", "aria-labelledby": "audit-title" });
let filters = { alert: "", actor: "", from: "", to: "", kinds: [], subject: false };
let rows = [];
let next = null;

export function renderAudit() {
  draw();
  return section;
}

function query(cursor) {
  const params = new URLSearchParams({ limit: "50" });
  if (filters.alert) params.set("alert", filters.alert);
  if (filters.actor) params.set("actor", filters.actor);
  // A date picker gives a day: the region's day, from its first to its last moment.
  if (filters.from) params.set("from", `${filters.from}T00:00:00+07:00`);
  if (filters.to) params.set("to", `${filters.to}T23:59:59.999+07:00`);
  for (const kind of filters.kinds) params.append("kind", kind);
  if (filters.subject) params.set("view", "subject");
  if (cursor) params.set("cursor", cursor);
  return `/v1/audit?${params}`;
}

async function search(error, more) {
  error.textContent = "";
  try {
    const page = await api("GET", query(more ? next : null));
    rows = more ? rows.concat(page.items) : page.items;
    next = page.next_cursor;
    draw();
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? t("error.api", { detail: failure.message }) : t("error.network");
  }
}

function draw() {
  const error = h("p", { class: "error", role: "alert", id: "audit-error" });
  const field = (id, key, attrs = {}) => [
    h("label", { for: id }, t(key)),
    h("input", { id, value: filters[id.slice(6)] || "", ...attrs, oninput: (e) => { filters[id.slice(6)] = e.target.value.trim(); } }),
  ];
  const kinds = KINDS.map((kind) =>
    h("label", { class: "check" },
      h("input", { type: "checkbox", value: kind, checked: filters.kinds.includes(kind), onchange: (e) => {
        filters.kinds = e.target.checked ? [...filters.kinds, kind] : filters.kinds.filter((k) => k !== kind);
      } }),
      " ", t(`audit.kind.${kind}`)));
  append(clear(section), [
    h("h2", { id: "audit-title" }, t("audit.title")),
    h("p", { class: "hint" }, t("audit.hint")),
    h("form", { class: "inline-form", id: "audit-form", onsubmit: (event) => { event.preventDefault(); search(error, false); } },
      field("audit-alert", "audit.alert", { maxlength: 64, placeholder: "SGP-…" }),
      field("audit-actor", "audit.actor", { maxlength: 64 }),
      field("audit-from", "audit.from", { type: "date" }),
      field("audit-to", "audit.to", { type: "date" }),
      h("fieldset", { id: "audit-kinds" }, h("legend", {}, t("audit.kinds")), kinds),
      h("label", { class: "check" },
        h("input", { type: "checkbox", id: "audit-subject", checked: filters.subject, onchange: (e) => { filters.subject = e.target.checked; } }),
        " ", t("audit.subject")),
      h("button", { type: "submit", id: "audit-search" }, t("audit.search"))),
    error,
    rows.length === 0
      ? h("p", { id: "audit-empty" }, t("audit.none"))
      : h("table", { id: "audit-table" },
          h("thead", {}, h("tr", {}, ["audit.at", "audit.kind", "audit.action", "audit.who", "audit.record"].map((k) => h("th", { scope: "col" }, t(k))))),
          h("tbody", {}, rows.map((r) => h("tr", { dataset: { entry: String(r.id) } },
            h("td", {}, formatTime(r.at, true)),
            h("td", {}, t(`audit.kind.${r.kind}`)),
            h("td", {}, h("code", {}, r.action)),
            h("td", {}, who(r)),
            h("td", {}, r.case_code || r.object_type))))),
    next ? h("button", { type: "button", id: "audit-more", onclick: () => search(error, true) }, t("audit.more")) : null,
    rows.length ? h("button", { type: "button", id: "audit-csv", onclick: download }, t("audit.csv")) : null,
  ]);
}

function who(row) {
  const role = row.actor_role ? t(`role.${row.actor_role}`) : row.actor_type;
  const where = [role, row.actor_unit].filter(Boolean).join(" · ");
  return row.actor ? `${row.actor} (${where})` : where;
}

function download() {
  const columns = ["id", "at", "kind", "action", "actor_type", "actor", "actor_role", "actor_unit", "object_type", "object_id", "case_code"];
  const cell = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  const text = [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n");
  const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "audit.csv" });
  link.click();
  URL.revokeObjectURL(link.href);
}
