// Integrator clients without curl (admins): police, 112, SAPA 129, LPSK, transit operators'
// systems. Create one with its scopes and data scope, rotate its secrets, revoke it. A new
// secret is shown once, here, and never again: the admin copies it to the integrator.
import { h, clear, append } from "./dom.js";
import { t, formatTime } from "./i18n.js";
import { api, ApiError } from "./session.js";
import { announce } from "./app.js";

const SCOPES = ["alerts:read", "alerts:create", "cases:read", "partner_status:write", "webhooks:manage", "reports:read", "exports:read", "reference:read"];
const DATA_SCOPES = ["none", "transit", "police", "112"];
const OPERATORS = ["transjakarta", "mrt", "lrt"];
const section = h("section", { id: "integrators", "aria-labelledby": "integrators-title" });
let shown = null; // the credential just created or rotated: on screen until the next change

export function renderIntegrators() {
  load();
  return section;
}

async function load() {
  const page = await api("GET", "/v1/integrators?limit=100").catch(() => ({ items: [] }));
  const error = h("p", { class: "error", role: "alert", id: "integrator-error" });
  const name = h("input", { id: "int-name", required: true, minlength: 2, maxlength: 120 });
  const dataScope = h("select", { id: "int-data-scope" }, DATA_SCOPES.map((s) => h("option", { value: s }, t(`integrators.data_scope.${s}`))));
  const operator = h("select", { id: "int-operator" }, OPERATORS.map((o) => h("option", { value: o }, o.toUpperCase())));
  const network = h("input", { id: "int-network", placeholder: "10.20.0.0/16", maxlength: 64 });
  const operatorRow = h("span", { class: "pair", hidden: true }, label("int-operator", t("integrators.operator")), operator);
  const networkRow = h("span", { class: "pair", hidden: true }, label("int-network", t("integrators.network")), network);
  dataScope.addEventListener("change", () => {
    operatorRow.hidden = dataScope.value !== "transit";
    networkRow.hidden = !["police", "112"].includes(dataScope.value);
  });
  const boxes = SCOPES.map((s) => h("input", { type: "checkbox", id: `int-scope-${s.replace(/[^a-z]/g, "-")}`, value: s }));
  append(clear(section), [
    h("h2", { id: "integrators-title" }, t("integrators.title")),
    error,
    shown ? credentialBox(shown) : null,
    h("table", { id: "integrator-table" },
      h("thead", {}, h("tr", {}, ["integrators.name", "integrators.client_id", "integrators.data_scope", "integrators.scopes", "users.status", "units.action"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, page.items.map((c) => h("tr", { dataset: { client: c.client_id } },
        h("td", {}, c.name),
        h("td", {}, h("code", {}, c.client_id)),
        h("td", {}, t(`integrators.data_scope.${c.data_scope}`), c.unit_code ? ` · ${c.unit_code.toUpperCase()}` : ""),
        h("td", {}, c.scopes.join(", ")),
        h("td", {}, c.revoked_at ? t("integrators.revoked", { time: formatTime(c.revoked_at, true) }) : c.secret_rotated_at ? t("integrators.rotated", { time: formatTime(c.secret_rotated_at, true) }) : t("users.active")),
        h("td", {}, c.revoked_at ? "—" : [
          h("button", { type: "button", class: "rotate-secret", onclick: () => {
            if (window.confirm(t("integrators.rotate_confirm", { name: c.name }))) act(error, () => api("POST", `/v1/integrators/${c.client_id}/secret`), "integrators.rotated_done", true);
          } }, t("integrators.rotate")),
          " ",
          h("button", { type: "button", class: "revoke", onclick: () => {
            if (window.confirm(t("integrators.revoke_confirm", { name: c.name }))) act(error, () => api("DELETE", `/v1/integrators/${c.client_id}`), "integrators.revoked_done", false);
          } }, t("integrators.revoke")),
        ]))))),
    h("form", { class: "inline-form", id: "integrator-form", onsubmit: (event) => {
      event.preventDefault();
      const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
      const body = { name: name.value.trim(), scopes, data_scope: dataScope.value };
      if (dataScope.value === "transit") body.unit_code = operator.value;
      if (!networkRow.hidden && network.value.trim()) body.allowed_network = network.value.trim();
      act(error, () => api("POST", "/v1/integrators", body), "integrators.created", true);
    } },
      h("h3", {}, t("integrators.create")),
      label("int-name", t("integrators.name")), name,
      label("int-data-scope", t("integrators.data_scope")), dataScope,
      operatorRow,
      networkRow,
      h("fieldset", { id: "int-scopes" }, h("legend", {}, t("integrators.scopes")), SCOPES.map((s, i) => h("label", { class: "check" }, boxes[i], " ", s))),
      h("button", { type: "submit", id: "integrator-create" }, t("integrators.create"))),
  ]);
}

function credentialBox(credential) {
  return h("div", { class: "secret-once", id: "integrator-secret", role: "status" },
    h("p", {}, h("strong", {}, t("integrators.shown_once", { name: credential.name }))),
    h("dl", { class: "facts" },
      h("dt", {}, "client_id"), h("dd", {}, h("code", { id: "secret-client-id" }, credential.client_id)),
      h("dt", {}, "client_secret"), h("dd", {}, h("code", { id: "secret-client-secret" }, credential.client_secret)),
      credential.webhook_secret ? [h("dt", {}, "webhook_secret"), h("dd", {}, h("code", { id: "secret-webhook" }, credential.webhook_secret))] : null),
    h("button", { type: "button", id: "secret-hide", onclick: () => { shown = null; load(); } }, t("integrators.hide")));
}

async function act(error, work, doneKey, keepsCredential) {
  error.textContent = "";
  try {
    const answer = await work();
    shown = keepsCredential ? answer : null;
    announce(t(doneKey));
    await load();
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? t("error.api", { detail: failure.message }) : t("error.network");
  }
}

function label(id, text) {
  return h("label", { for: id }, text);
}
