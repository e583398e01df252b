// The fetch wrapper every page uses. The token lives in localStorage and goes out as a Bearer
// header (the server refuses a POST without it); the HttpOnly cookie set at sign-in rides along
// too, which is what authenticates EventSource and downloads. A 401 means the session is gone:
// forget the token and go to /signin, coming back here afterwards.

const TOKEN_KEY = "emailCenter.token";

export class ApiError extends Error {
  /** @param {number} status  @param {{message?:string, code?:string}} detail  @param {object} [body] */
  constructor(status, detail = {}, body = null) {
    super(detail.message || `Request failed (HTTP ${status})`);
    this.name = "ApiError";
    this.status = status;
    this.code = detail.code || (status ? `HTTP_${status}` : "NETWORK");
    this.detail = detail;
    this.body = body;
  }
}

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the cookie still carries GETs */ }
}

/** Where /signin should send the person back to: only a path on this site. */
export function safeNext(next, fallback = "/admin") {
  const ok = typeof next === "string" && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\")
    && !next.startsWith("/signin");
  return ok ? next : fallback;
}

export function redirectToSignIn() {
  const here = location.pathname + location.search;
  if (location.pathname === "/signin") return;
  location.assign(`/signin?next=${encodeURIComponent(here)}`);
}

/** The session is gone (a 401): forget the token, sign in again and come back here. */
export function sessionEnded() {
  setToken(null);
  redirectToSignIn();
}

/** The error of a request that never reached the server. */
export function networkError() {
  return new ApiError(0, { message: "Cannot reach the server. Check your connection and try again.", code: "NETWORK" });
}

/**
 * Encode parameters the way the server reads a query string: a list of numbers repeats the key
 * (`filterByTk=5&filterByTk=6`), a list of strings is comma-separated (`fields=id,subject`),
 * any other object is JSON (`filter`).
 */
export function toQuery(params = {}) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value) && value.every((v) => typeof v === "number")) value.forEach((v) => q.append(key, String(v)));
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) q.set(key, value.join(","));
    else if (typeof value === "object") q.set(key, JSON.stringify(value));
    else q.set(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * One call. `path` is under /api ("users:list" or "/api/users:list").
 * Resolves to the parsed JSON body ({data, meta}); rejects with ApiError.
 */
export async function request(method, path, { params, body, signal, headers = {} } = {}) {
  const url = (path.startsWith("/") ? path : `/api/${path}`) + toQuery(params);
  const h = { Accept: "application/json", ...headers };
  const token = getToken();
  if (token) h.Authorization = `Bearer ${token}`;
  const init = { method, headers: h, credentials: "same-origin", signal };
  if (body !== undefined) {
    if (body instanceof FormData) init.body = body;
    else { h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw networkError();
  }
  let json = null;
  const type = res.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { json = await res.json(); } catch { json = null; }
  }
  if (res.status === 401 && !path.includes("auth:signIn")) sessionEnded();
  if (!res.ok) {
    const detail = (json && Array.isArray(json.errors) && json.errors[0]) || {};
    throw new ApiError(res.status, detail, json);
  }
  return json ?? {};
}

export const api = {
  request,
  get: (path, params, opts = {}) => request("GET", path, { ...opts, params }),
  post: (path, body, opts = {}) => request("POST", path, { ...opts, body }),
  /** `api.resource("users").list({page: 2})` → the answer of GET /api/users:list?page=2 */
  resource(name) {
    return new Proxy({}, {
      // "then" stays undefined, so awaiting the resource object itself doesn't fire a request
      get: (_, action) => (action === "then" || typeof action !== "string" ? undefined : (params = {}, opts = {}) =>
        ["list", "get"].includes(action)
          ? request("GET", `${name}:${String(action)}`, { ...opts, params })
          : request("POST", `${name}:${String(action)}`, { ...opts, body: params })),
    });
  },
  getToken,
  setToken,
  sessionEnded,
  networkError,
};

export default api;
