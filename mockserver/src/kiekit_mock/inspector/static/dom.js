// Small DOM helpers. Every value from the mock goes in as text (textContent), never as HTML:
// prompts, paths and bodies are whatever a client sent.

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// --- formatting ---

const pad = (n, width = 2) => String(n).padStart(width, "0");

// mock-clock seconds since the epoch, as a UTC time of day with milliseconds
export function clockTime(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const at = new Date(seconds * 1000);
  return `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}.${pad(at.getUTCMilliseconds(), 3)}`;
}

export function clockDate(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export const short = (id, length = 8) => (id && id.length > length + 1 ? `${id.slice(0, length)}…` : id || "");

// To the 6 places the mock keeps credits to (state.py CREDIT_PLACES): 0.0004 showed as 0
export function number(value) {
  if (value === null || value === undefined) return "–";
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
}

export function bytes(size) {
  if (size === null || size === undefined) return "streamed";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

// --- badges ---

export function stateBadge(state) {
  const tone = { success: "good", fail: "bad" }[state] || "wait";
  return h("span", { class: `badge ${tone}`, dataset: { state } }, state);
}

export function codeBadge(code, status) {
  if (status === 0) return h("span", { class: "badge bad" }, "reset");
  const parts = [];
  if (status !== 200) parts.push(h("span", { class: `badge ${status >= 500 ? "bad" : "warn"}` }, `HTTP ${status}`));
  if (code !== null && code !== undefined) {
    const tone = code === 200 ? "good" : code >= 500 ? "bad" : "warn";
    parts.push(h("span", { class: `badge ${tone}` }, `code ${code}`));
  } else if (status === 200) {
    parts.push(h("span", { class: "badge plain" }, "HTTP 200"));
  }
  return parts;
}

// An id in a table cell: the whole id is the text (copying it copies the id, which a filter
// takes), cut to its start on screen only (style.css .id).
export function idText(id) {
  return id ? h("span", { class: "mono id", title: id }, id) : "";
}

export function taskLink(taskId, { whole = false } = {}) {
  if (!taskId) return "";
  return h("a", { href: `#tasks/${encodeURIComponent(taskId)}`, class: whole ? "mono" : "mono id", title: taskId }, taskId);
}

// --- keyed tables: rows are kept, changed in place or moved, never all rebuilt ---

// items: the rows wanted, in order; key(item) names a row; sign(item) says when it changed;
// render(item) makes its <tr>. Rows whose item did not change stay the same DOM nodes.
export function reconcile(tbody, items, { key, sign, render }) {
  const kept = new Map();
  for (const row of tbody.rows) kept.set(row.dataset.key, row);
  let cursor = tbody.firstElementChild;
  for (const item of items) {
    const name = String(key(item));
    const signature = sign(item);
    let row = kept.get(name);
    if (row && row.dataset.sign !== signature) {
      const fresh = render(item);
      if (cursor === row) cursor = fresh;
      row.replaceWith(fresh);
      row = fresh;
    } else if (!row) {
      row = render(item);
    }
    kept.delete(name);
    row.dataset.key = name;
    row.dataset.sign = signature;
    if (row === cursor) cursor = cursor.nextElementSibling;
    else tbody.insertBefore(row, cursor);
  }
  for (const row of kept.values()) row.remove();
}

export function emptyRow(columns, text) {
  return h("tr", { class: "empty" }, h("td", { colspan: columns }, text));
}
