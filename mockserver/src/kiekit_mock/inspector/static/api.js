// The mock's /_mock/ control API, as the page uses it: JSON in and out, real HTTP statuses.
// A refusal (400 {error, field}, 404, 409) becomes an ApiError carrying the API's own words,
// so a form shows exactly what the control API said.

export class ApiError extends Error {
  constructor(status, body) {
    const said = body && typeof body === "object" ? body : { error: String(body || "") };
    const message = said.error || `HTTP ${status}`;
    super(said.field ? `${said.field}: ${message}` : message);
    this.status = status;
    this.field = said.field || null;
    this.reason = message;
  }
}

function url(path, query) {
  const target = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") {
      target.searchParams.set(name, String(value));
    }
  }
  return target;
}

export async function call(method, path, { query, body, counted } = {}) {
  const init = { method, headers: {}, cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url(path, query), init);
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the error message
  }
  if (!response.ok) {
    throw new ApiError(response.status, data);
  }
  // a page of a list: its X-Total-Count says how many there are, every page together
  return counted ? { items: data, total: Number(response.headers.get("X-Total-Count")) } : data;
}

export const get = (path, query) => call("GET", path, { query });
export const getPage = (path, query) => call("GET", path, { query, counted: true });
export const post = (path, body) => call("POST", path, { body });
export const put = (path, body) => call("PUT", path, { body });
export const del = (path) => call("DELETE", path);

// task ids and the like go into paths: never let one change the path's shape
export const part = (text) => encodeURIComponent(text);
