// Message catalogues (i18n/<lang>.json) and the region's time zone. The chosen language is the
// only thing the console keeps in browser storage: it is a preference, not personal data.
const LANG_KEY = "sigap.lang";
export const LANGUAGES = ["id", "en"];
let catalogue = {};
let language = "id";
let timeZone = "Asia/Jakarta";

export function preferredLanguage() {
  const saved = window.localStorage.getItem(LANG_KEY);
  return LANGUAGES.includes(saved) ? saved : "id";
}

export async function setLanguage(lang) {
  const response = await fetch(`/console/i18n/${lang}.json`);
  catalogue = await response.json();
  language = lang;
  document.documentElement.lang = lang;
  window.localStorage.setItem(LANG_KEY, lang);
}

export function currentLanguage() {
  return language;
}

export function setTimeZone(zone) {
  timeZone = zone;
}

export function t(key, params = {}) {
  const template = catalogue[key];
  if (template === undefined) {
    console.warn(`missing message ${key}`);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// `t` for keys built from server values (states, reasons), with a fallback to the raw value.
export function tOr(key, fallback) {
  return key in catalogue ? catalogue[key] : fallback;
}

function locale() {
  return language === "id" ? "id-ID" : "en-GB";
}

export function formatTime(iso, withDate = false) {
  if (!iso) return "";
  const options = { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate) Object.assign(options, { day: "numeric", month: "short" });
  return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
}

// A distance as people say it, in the console's language: "180 m", "6,7 km" (Indonesian uses a
// decimal comma).
export function formatDistance(metres) {
  const km = metres >= 1000;
  const value = km ? metres / 1000 : Math.round(metres / 10) * 10;
  const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: km ? 1 : 0 }).format(value);
  return `${number} ${km ? "km" : "m"}`;
}

// A number as the console's language writes it ("6,7" in Indonesian, "6.7" in English).
export function formatNumber(value, maximumFractionDigits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits }).format(value);
}

// A day as people say it: "8 Des" in Indonesian, "8 Dec" in English (never "12-08"). ``iso`` is
// a date ("2026-12-08") or a moment; a bare date is the region's calendar day.
export function formatDay(iso) {
  const bare = /^\d{4}-\d{2}-\d{2}$/.test(iso);
  const options = { day: "numeric", month: "short", timeZone: bare ? "UTC" : timeZone };
  return new Intl.DateTimeFormat(locale(), options).format(new Date(bare ? `${iso}T00:00:00Z` : iso)).replace(/\.$/, "");
}

export function formatDuration(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  const ss = s - mm * 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return t("duration.days", { sign, d, h: hh, m: pad(mm) });
  if (hh > 0) return `${sign}${hh}:${pad(mm)}:${pad(ss)}`;
  return `${sign}${mm}:${pad(ss)}`;
}

export function zoneName() {
  return timeZone;
}
