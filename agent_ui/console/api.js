// The HTTP API, as the console uses it. The session is an HttpOnly cookie the browser sends
// by itself: this module never sees, stores or forwards a token.

export class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Server clock minus ours, in ms (from the Date header), so offer countdowns match the server. */
export let clockSkewMs = 0;

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new HttpError(0, "network", String(err));
  }
  noteServerClock(response.headers.get("Date"));
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && typeof data === "object" ? data.error ?? {} : {};
    throw new HttpError(response.status, error.code ?? `http_${response.status}`, error.message ?? response.statusText);
  }
  return data;
}

function noteServerClock(header) {
  const server = header ? Date.parse(header) : NaN;
  if (Number.isNaN(server)) return;
  const skew = server - Date.now();
  // The header has 1 s resolution: only a clearly wrong local clock is worth correcting.
  clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
}

const seg = encodeURIComponent;

export const api = {
  me: () => call("GET", "/api/me"),
  login: (login, password) => call("POST", "/api/login", { login, password }),
  logout: () => call("POST", "/api/logout"),
  agents: () => call("GET", "/api/agents"),
  interaction: (id) => call("GET", `/api/interactions/${seg(id)}`),
  supervisorAgents: () => call("GET", "/api/metrics/agents"),
  setAgentState: (id, state, reason) => call("POST", `/api/agents/${seg(id)}/state`, reason ? { state, reason } : { state }),
  moveInteraction: (id, queue) => call("POST", `/api/interactions/${seg(id)}/move`, { queue }),
  customer: (id) => call("GET", `/api/customers/${seg(id)}`),
  history: (id, before = null, limit = 30) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    return call("GET", `/api/customers/${seg(id)}/history?${query}`);
  },
};
