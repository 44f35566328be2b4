// The console's shell: sign-in, the header, the live stream, and which screen is shown.
import { h, clear } from "./dom.js";
import { t, setLanguage, preferredLanguage, currentLanguage, setTimeZone } from "./i18n.js";
import { api, signIn, signOut, refresh, on as onSession, ApiError, retryAfterSeconds } from "./session.js";
import { Stream } from "./stream.js";
import { unlockSound, setMuted, isMuted, ring, flash, notify, offerUnseen, offersSeen, offerGone, muteOffer, unseenOffers, onUnseenChange } from "./alarm.js";
import { state, loadQueue, legsOfAlert, prune, noteEvent, rememberOffer, unitName } from "./state.js";
import { renderQueue } from "./queue.js";
import { renderAlert, refreshAlert, stopAlert } from "./alert.js";
import { renderBoard, refreshBoard, glassBroken, attentionEvent, resetBoard } from "./board.js";
import { tickCountdowns } from "./countdown.js";
import { renderRosters } from "./rosters.js";
import { renderAudit } from "./audit.js";

const main = document.getElementById("main");
const top = document.getElementById("top");
const banner = document.getElementById("banner");
const live = document.getElementById("live");
let stream = null;
let reloadTimer = null;
let bannerKey = null;

// New offers to my unit while another alert is open: a banner that stays, labelled, with a way
// to each offer and to mute it; the count on the queue button; and the tab's title.
const baseTitle = document.title;
let offerBanner = null;
function paintUnseen() {
  const offers = unseenOffers();
  document.title = offers.length ? `(${offers.length}) ${t("offers.title_new")} · ${baseTitle}` : baseTitle;
  if (!offerBanner) {
    offerBanner = h("div", { id: "new-offers", class: "banner offers", role: "alert" });
    main.before(offerBanner);
  }
  clear(offerBanner);
  offerBanner.hidden = offers.length === 0;
  if (offers.length) {
    offerBanner.append(
      h("strong", {}, t("offers.banner", { n: offers.length })),
      " ",
      h("ul", {}, offers.map((o) => h("li", { dataset: { assignment: o.id } },
        h("button", { type: "button", class: "link open-offer", onclick: () => go({ name: "alert", alertId: o.alertId }) }, o.caseCode || t("offers.open")),
        " ",
        o.muted ? h("span", { class: "muted" }, t("offers.muted")) : h("button", { type: "button", class: "small mute-offer", onclick: () => muteOffer(o.id) }, t("offers.mute"))))),
    );
  }
  if (state.me) renderTop();
}
onUnseenChange(paintUnseen);

function showBanner(key) {
  bannerKey = key;
  banner.hidden = key === null;
  banner.textContent = key === null ? "" : t(key);
}

export function announce(text) {
  live.textContent = text;
}

export function go(view) {
  if (state.view.name === "alert" && view.name !== "alert") stopAlert();
  state.view = view;
  if (view.name === "queue") offersSeen();
  else if (view.name === "alert") offersSeen(view.alertId);
  // The fragment names the open alert (never sent to the server, never a credential), so a
  // link such as /console/#/alert/<id> opens it after sign-in.
  const hash = view.name === "alert" ? `#/alert/${view.alertId}` : "";
  if (location.hash !== hash) history.replaceState(null, "", `/console/${hash}`);
  render();
  main.focus();
}

// What has keyboard focus, as something that survives a re-render: its id, or the row's alert
// and the element's class. A live event must not throw a keyboard user back to the top.
function focusKey() {
  const el = document.activeElement;
  if (!el || el === document.body || !main.contains(el)) return null;
  if (el.id) return `#${CSS.escape(el.id)}`;
  const row = el.closest("[data-alert]");
  if (row && el.classList.length) return `[data-alert="${row.dataset.alert}"] .${CSS.escape(el.classList[0])}`;
  return null;
}

// A screen whose own action changed what it shows (the board after an acknowledgement).
export function rerender() {
  if (state.me && state.view.name !== "units") render();
}

export function render() {
  const focused = focusKey();
  renderTop();
  clear(main);
  if (!state.me) {
    main.append(signInForm());
    return;
  }
  const view = state.view;
  if (view.name === "alert") main.append(renderAlert(view.alertId));
  else if (view.name === "board") main.append(renderBoard());
  else if (view.name === "units") main.append(renderRosters());
  else if (view.name === "audit") main.append(renderAudit());
  else main.append(renderQueue());
  if (focused) main.querySelector(focused)?.focus();
}

function renderTop() {
  clear(top);
  top.hidden = false;
  const langButton = h(
    "button",
    {
      type: "button",
      id: "lang-toggle",
      lang: currentLanguage() === "id" ? "en" : "id",
      "aria-label": t("lang.toggle_label"),
      onclick: async () => {
        await setLanguage(currentLanguage() === "id" ? "en" : "id");
        live.textContent = ""; // an announcement in the old language is stale
        if (bannerKey) banner.textContent = t(bannerKey);
        render();
        if (offerBanner) paintUnseen(); // the new-offers banner lives outside the screen
      },
    },
    t("lang.other"),
  );
  const title = h("span", { class: "brand" }, t("app.name"));
  if (!state.me) {
    top.append(title, h("span", { class: "spacer" }), langButton);
    return;
  }
  const nav = [];
  if (["supervisor", "admin"].includes(state.me.role)) {
    nav.push(navButton("board", t("nav.board")));
    nav.push(navButton("units", t("nav.units")));
    nav.push(navButton("audit", t("nav.audit")));
  }
  const waiting = unseenOffers().length;
  const queueLabel = t(state.me.role === "transit_staff" ? "nav.transit" : "nav.queue");
  nav.push(navButton("queue", waiting ? `${queueLabel} (${waiting})` : queueLabel));
  const mute = h(
    "button",
    {
      type: "button",
      id: "mute",
      "aria-pressed": String(isMuted()),
      onclick: () => {
        setMuted(!isMuted());
        renderTop();
      },
    },
    isMuted() ? t("sound.unmute") : t("sound.mute"),
  );
  const who = h(
    "span",
    { class: "who" },
    t("top.signed_in_as", { name: state.me.name, role: t(`role.${state.me.role}`) }),
    state.me.unit_code ? ` · ${unitName(state.me.unit_code)}` : "",
  );
  const out = h("button", { type: "button", id: "sign-out", onclick: doSignOut }, t("top.sign_out"));
  top.append(title, h("nav", { "aria-label": t("nav.label") }, nav), h("span", { class: "spacer" }), who, mute, langButton, out);
}

function navButton(name, label) {
  const current = state.view.name === name || (name === "queue" && state.view.name === "alert" && !state.me.province);
  return h("button", { type: "button", class: "nav", "aria-current": current ? "page" : false, onclick: () => go({ name }) }, label);
}

function signInForm() {
  const error = h("p", { class: "error", role: "alert", id: "signin-error" });
  const form = h(
    "form",
    {
      class: "signin",
      "aria-labelledby": "signin-title",
      onsubmit: async (event) => {
        event.preventDefault();
        unlockSound();
        const data = new FormData(form);
        error.textContent = "";
        try {
          await signIn(String(data.get("username")), String(data.get("password")), String(data.get("unlock_code") || "").trim());
          await enter();
        } catch (failure) {
          const wait = retryAfterSeconds(failure);
          error.textContent = wait ? t("signin.throttled", { seconds: wait }) : failure instanceof ApiError && failure.status === 401 ? t("signin.wrong") : t("error.network");
        }
      },
    },
    h("h1", { id: "signin-title" }, t("signin.title")),
    h("p", {}, t("signin.intro")),
    h("label", { for: "username" }, t("signin.username")),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "password" }, t("signin.password")),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("details", { class: "unlock" }, h("summary", {}, t("signin.unlock_summary")),
      h("label", { for: "unlock-code" }, t("signin.unlock_code")),
      h("input", { id: "unlock-code", name: "unlock_code", autocomplete: "off", inputmode: "numeric", maxlength: 32 })),
    h("button", { type: "submit", class: "primary", id: "sign-in" }, t("signin.submit")),
    h("p", { class: "hint" }, t("signin.sound_hint")),
    error,
  );
  return form;
}

async function enter() {
  state.me = await api("GET", "/v1/me");
  state.me.province = ["supervisor", "admin"].includes(state.me.role);
  const [map, units] = await Promise.all([
    fetch("/console/map.json").then((r) => r.json()),
    api("GET", "/v1/units?limit=100"),
  ]);
  state.map = map;
  setTimeZone(map.timezone);
  state.units = new Map(units.items.map((u) => [u.code, u]));
  stream = new Stream({ onEvent, onResync: reloadAll, onStatus });
  await reloadAll();
  stream.start();
  // After an expired session, back to where the person was (their note draft is still there).
  let resume = state.resumeView;
  state.resumeView = null;
  if (state.draftOwner && state.draftOwner !== state.me.id) {
    state.drafts.clear(); // someone else signed in on this page: not theirs to see
    resume = null;
  }
  state.draftOwner = null;
  go(resume || { name: state.me.province ? "board" : "queue" });
}

// Serialized like refreshAlert: an older reload must never paint over a newer one.
let reloading = null;
let reloadAgain = false;
let touched = null; // alert ids the stream named since the last reload; null: reload everything
function reloadAll(full = true) {
  if (full) touched = null;
  if (reloading) {
    reloadAgain = true;
    return reloading;
  }
  reloading = (async () => {
    do {
      reloadAgain = false;
      if (!state.me) return;
      const these = touched;
      touched = new Set();
      await loadQueue();
      if (state.me.province) await refreshBoard(these);
      prune();
      if (state.view.name === "alert") await refreshAlert();
      else if (!["units", "audit"].includes(state.view.name)) render();
    } while (reloadAgain);
  })().finally(() => {
    reloading = null;
  });
  return reloading;
}

function scheduleReload(alertId) {
  if (touched !== null && alertId) touched.add(alertId);
  else touched = null;
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => reloadAll(false).catch(reportError), 150);
}

// Besides SLA warnings and breaches, what the board's warning list shows a supervisor.
const WARNINGS = new Set(["alert.glass_broken", "alert.handoff_unacknowledged"]);

async function onEvent(message) {
  const data = message.data || {};
  state.seenEvents += 1;
  noteEvent(data.alert_id);
  if (message.event === "assignment.offered" && (state.me.province || data.unit_code === state.me.unit_code)) {
    const isMine = data.unit_code === state.me.unit_code;
    if (isMine) {
      rememberOffer(message);
      if (state.view.name === "queue") render();
      ring();
      flash();
      // Working on another alert: this one must not be missed (a tint fades; this stays).
      if (state.view.name === "alert" && state.view.alertId !== data.alert_id) offerUnseen(data.assignment_id, data.alert_id, data.case_code);
      const area = await areaOf(data.alert_id);
      notify(t("notify.title", { code: data.case_code || "" }), area || "");
      announce(t("queue.new_offer_announce", { code: data.case_code || "", area: area || "" }));
    }
  }
  if (["assignment.accepted", "assignment.declined", "assignment.expired", "assignment.withdrawn"].includes(message.event)) offerGone(data.assignment_id);
  if (message.event === "alert.glass_broken" && state.me.province) glassBroken();
  if (message.event?.startsWith("attention.") && state.me.province) attentionEvent(message);
  if (message.event === "alert.handoff_unacknowledged" && state.me.province) {
    ring();
    announce(t("handoff.announce", { code: data.case_code || "", phone: data.phone_fallback || "112" }));
  }
  if ((message.event?.startsWith("sla.") || WARNINGS.has(message.event)) && state.me.province) {
    state.warnings.unshift({ at: message.at, event: message.event, data });
    state.warnings.splice(20);
  }
  scheduleReload(data.alert_id);
}

async function areaOf(alertId) {
  try {
    const alert = await api("GET", `/v1/alerts/${alertId}`);
    state.alerts.set(alertId, alert);
    return alert.area_name;
  } catch {
    return null;
  }
}

function onStatus(status) {
  if (status === "online") {
    showBanner(null);
    document.body.classList.remove("offline");
  } else if (status === "offline") {
    showBanner("banner.offline");
    document.body.classList.add("offline");
  } else if (status === "crowded") {
    showBanner("banner.crowded");
    document.body.classList.add("offline");
  } else if (status === "refused") {
    expired();
  }
}

function reportError(error) {
  announce(error instanceof ApiError ? error.message : t("error.network"));
}

async function doSignOut() {
  stream?.stop();
  stream = null;
  await signOut().catch(() => {});
  state.reset();
  resetBoard();
  offersSeen();
  state.drafts.clear();
  go({ name: "queue" });
}

function expired() {
  // Back to sign-in, keeping drafts in page memory so a note being typed is not lost.
  stream?.stop();
  stream = null;
  const view = state.view;
  const owner = state.me.id;
  if (view.name === "alert") stopAlert();
  state.reset(); // drafts are not part of the reset: they stay in page memory
  resetBoard();
  state.resumeView = view;
  state.draftOwner = owner;
  showBanner("banner.expired");
  render();
}

onSession("expired", () => {
  if (state.me) expired();
});

setInterval(tickCountdowns, 1000);

async function boot() {
  await setLanguage(preferredLanguage());
  const linked = /^#\/alert\/([0-9a-f-]{36})$/.exec(location.hash);
  if (linked) state.resumeView = { name: "alert", alertId: linked[1] };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.view.name === "alert") go({ name: state.me?.province ? "board" : "queue" });
  });
  try {
    await refresh();
    await enter();
  } catch {
    render();
  }
}

boot();

export { legsOfAlert };
