// The console's only way to the server: the public APIs, with the bearer token of POST /api/v5/login.
// The token lives in this tab's sessionStorage (gone with the tab) and is sent as a header, never a cookie,
// so another site cannot make the browser use it (no CSRF). It expires after the server's token lifetime.

const KEY = "tether.session";

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onExpired = () => {};
export function whenSessionEnds(callback) {
  onExpired = callback;
}

export function session() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (saved && saved.token && saved.expiresAt * 1000 > Date.now()) return saved;
  } catch (_) {
    /* a damaged entry is no session */
  }
  sessionStorage.removeItem(KEY);
  return null;
}

function claims(token) {
  const part = token.split(".")[1] || "";
  return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
}

// The words of an error body: Cumulocity's {error, message}, EMQX's and Fleets' {code, message}.
function explain(status, body, fallback) {
  if (body && typeof body === "object") {
    if (body.code === "BAD_USERNAME_OR_PWD") return "Wrong user name or password.";
    if (status === 403) return `Your roles do not allow this (the server answered: ${body.message || body.error || "forbidden"}).`;
    if (body.message) return String(body.message);
    if (body.error) return String(body.error);
  }
  if (status === 0) return "The server cannot be reached.";
  return fallback || `The server answered ${status}.`;
}

async function request(path, { method = "GET", body, query, token, signal } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
    }
    const text = params.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "The server cannot be reached. Check that Tether runs and try again.");
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch (_) {
      parsed = text;
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, explain(response.status, parsed, response.statusText), parsed && parsed.code);
  }
  return parsed;
}

// A call as the logged-in operator; a 401 ends the session (expired, logged out elsewhere, password changed).
export async function api(path, options = {}) {
  const current = session();
  if (!current) {
    onExpired("Your session has ended: log in again.");
    throw new ApiError(401, "Your session has ended: log in again.");
  }
  try {
    return await request(path, { ...options, token: current.token });
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem(KEY);
      onExpired(`Your session has ended (${error.message}). Log in again.`);
    }
    throw error;
  }
}

// The session remembers what the user may do (its effective roles of /user/currentUser) to show only the pages
// and actions those allow; the server still decides every request (a 403 is shown in words).
export async function login(username, password) {
  const answer = await request("/api/v5/login", { method: "POST", body: { username, password } });
  const expiresAt = claims(answer.token).exp;
  const me = await request("/user/currentUser", { token: answer.token });
  const roles = (me.effectiveRoles || []).map((r) => r.id || r.name);
  const saved = { token: answer.token, user: username, expiresAt, admin: answer.role === "administrator", roles };
  sessionStorage.setItem(KEY, JSON.stringify(saved));
  return saved;
}

// Whether the session's user may read (or write) an API family ("INVENTORY", "USER_MANAGEMENT", ...), or,
// for "admin", is an administrator (the /api/v5 management API, Fleets and the rule engine are theirs).
export function may(family, write = false) {
  const current = session();
  if (!current) return false;
  if (current.admin) return true;
  if (!family || family === "admin") return !family;
  const roles = current.roles || [];
  return roles.includes(`ROLE_${family}_ADMIN`) || (!write && roles.includes(`ROLE_${family}_READ`));
}

export async function logout() {
  const current = session();
  sessionStorage.removeItem(KEY);
  if (current) {
    try {
      await request("/api/v5/logout", { method: "POST", token: current.token });
    } catch (_) {
      /* already expired or logged out: nothing more to end */
    }
  }
}

// Total of a Cumulocity collection (pageSize=1&withTotalElements=true).
export async function total(path, query = {}) {
  const body = await api(path, { query: { ...query, pageSize: 1, withTotalElements: true } });
  return body.statistics.totalElements;
}

// Quote a value for the inventory query language ('O''Brien').
export function quoted(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}
