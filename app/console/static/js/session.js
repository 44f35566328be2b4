// The browser session. The refresh token is an HttpOnly cookie scoped to /v1/auth that this
// code never sees; the access token lives only in this module's memory and is refreshed
// shortly before it expires. Nothing here touches localStorage, sessionStorage or IndexedDB.
import { t } from "./i18n.js";

const CSRF = { "X-Sigap-Console": "1" };
let accessToken = null;
let refreshTimer = null;
const listeners = { token: [], expired: [] };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// The request never got an answer (server down, network gone): said in the console's language,
// never the browser's own words ("Failed to fetch"). Status 0: no answer, so nothing changed
// that the console knows of.
export class NetworkError extends ApiError {
  constructor() {
    super(0, { detail: t("error.network") });
    this.name = "NetworkError";
  }
}

// fetch(), with a failure to reach the server turned into a NetworkError.
async function reach(url, options) {
  try {
    return await fetch(url, options);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new NetworkError();
  }
}

export function on(kind, callback) {
  listeners[kind].push(callback);
}

export function token() {
  return accessToken;
}

function accept(body) {
  accessToken = body.access_token;
  clearTimeout(refreshTimer);
  // Refresh at 80 % of the lifetime: early enough for a slow network, late enough to be rare.
  refreshTimer = setTimeout(() => refresh().catch(() => {}), body.expires_in * 800);
  for (const cb of listeners.token) cb(accessToken);
}

async function sessionCall(path, body) {
  const response = await reach(`/v1/auth/session${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { ...CSRF, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    error.retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw error;
  }
  return data;
}

// ``unlockCode``: a supervisor's one-time code, for a new device while the account's
// unknown-devices lane is locked. This browser's device cookie (HttpOnly, set by the server on
// every successful sign-in) goes with the request by itself: the page never sees it.
export async function signIn(username, password, unlockCode = "") {
  const body = { username, password };
  if (unlockCode) body.unlock_code = unlockCode;
  accept(await sessionCall("", body));
}

// A throttled sign-in (429) says how long to wait: the server's count, never the console's
// guess. Null for any other failure.
export function retryAfterSeconds(error) {
  if (!(error instanceof ApiError) || error.status !== 429) return null;
  const seconds = Number(error.problem.retry_after ?? error.retryAfter);
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
}

let refreshing = null;
export function refresh() {
  // One refresh at a time: a rotated cookie presented twice would revoke the sign-in.
  refreshing ||= sessionCall("/refresh")
    .then((body) => {
      if (body === null) throw new ApiError(401, { detail: "no session" });
      accept(body);
    })
    .catch((error) => {
      if (error instanceof ApiError && error.status === 401) expire();
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

function expire() {
  accessToken = null;
  clearTimeout(refreshTimer);
  for (const cb of listeners.expired) cb();
}

export async function signOut() {
  try {
    await sessionCall("/signout");
  } finally {
    accessToken = null;
    clearTimeout(refreshTimer);
  }
}

const SHED_RETRIES = 5;

// Under overload the server sheds reports and administration first, before doing any work
// (503 /problems/overloaded with Retry-After): waiting and asking again is always safe.
async function shedPause(response, data) {
  if (response.status !== 503 || data?.type !== "/problems/overloaded") return false;
  const seconds = Number(response.headers.get("Retry-After")) || 1;
  await new Promise((resolve) => setTimeout(resolve, Math.min(seconds, 5) * 1000));
  return true;
}

export async function api(method, path, body) {
  let shed = 0;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    if (!accessToken) await refresh();
    const response = await reach(path, {
      method,
      credentials: "omit",
      headers: {
        Authorization: `Bearer ${accessToken}`,
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    if (response.status === 401 && attempt === 0) {
      await refresh();
      continue;
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (shed < SHED_RETRIES && (await shedPause(response, data))) {
      shed += 1;
      attempt -= 1; // not an authentication attempt
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }
  throw new ApiError(401, null);
}
