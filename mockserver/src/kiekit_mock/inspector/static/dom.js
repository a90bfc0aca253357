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

// --- keyboard focus across re-renders (WCAG 2.4.3): a row or a detail that is rebuilt under
// the focus would drop it to <body>, and a keyboard or screen-reader user loses their place ---

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

function focusables(node) {
  const found = [...node.querySelectorAll(FOCUSABLE)];
  return node.matches(FOCUSABLE) ? [node, ...found] : found;
}

const usable = (node) => node && node.isConnected && !node.disabled && !node.closest("[hidden]");

function lost() {
  const active = document.activeElement;
  return !active || active === document.body || !active.isConnected;
}

// where the focus is inside scope, said so that it survives a rebuild: the element's id, or
// its row's key (data-key) and its place among the row's focusable elements
export function focusPlace(scope) {
  const active = document.activeElement;
  if (!active || active === document.body || !scope.contains(active)) return null;
  const near = active.closest(".card, .pane, .detail"); // the last resort: its part's heading or list
  if (active.id) return { id: active.id, near };
  const row = active.closest("[data-key]");
  if (row && scope.contains(row)) return { key: row.dataset.key, index: focusables(row).indexOf(active), near };
  return { element: active, near };
}

function placed(scope, place) {
  if (place.id) return document.getElementById(place.id);
  if (place.key !== undefined) {
    const row = [...scope.querySelectorAll("[data-key]")].find((each) => each.dataset.key === place.key);
    return row ? focusables(row)[place.index] || focusables(row)[0] : null;
  }
  return place.element;
}

// after a rebuild: back to the same control if the focus was lost, else to fallback (an
// element, or a function giving one); nothing happens when the user has moved on
export function restoreFocus(scope, place, fallback) {
  if (!place || !lost()) return;
  let target = placed(scope, place);
  if (!usable(target) || !scope.contains(target)) target = typeof fallback === "function" ? fallback() : fallback;
  if (!usable(target) && place.near && place.near.isConnected) target = place.near.querySelector("h2[tabindex], .table-wrap");
  if (usable(target)) target.focus({ preventScroll: true });
}

// clear(node, ...children), the focus kept on the same control (by id or row key) or moved
// to fallback when that control is gone
export function replaceKeepingFocus(node, fallback, ...children) {
  const place = focusPlace(node);
  clear(node, ...children);
  restoreFocus(node, place, fallback);
  return node;
}

// a pager button about to be disabled under the focus hands it to `next` (the other button)
export function disable(button, disabled, next) {
  if (disabled && document.activeElement === button && next && !next.disabled) next.focus();
  button.disabled = disabled;
}

// A list's way in and out for the keyboard (WCAG 2.4.1): its scroll box takes the focus when
// a focused row goes away, and a skip link before it jumps to its pager (every row is a Tab
// stop: a page of 100 requests took 215 Tab presses to get through).
export function listParts(table, label) {
  const wrap = h("div", { class: "table-wrap", tabindex: -1, role: "region", "aria-label": label }, table);
  const pager = h("div", { class: "pager", tabindex: -1, role: "group", "aria-label": `${label}: pages` });
  const skip = h("a", { class: "skip", href: "#", onclick: (event) => {
    event.preventDefault(); // not the hash: that is the page's route
    pager.focus();
  } }, `Skip the ${label} to its pages`);
  return { wrap, pager, skip };
}

// the header of a column of buttons: named for a screen reader, blank on screen
export function actionsHeader() {
  return h("th", {}, h("span", { class: "visually-hidden" }, "actions"));
}

// the open row: for the eye (style.css), and for a screen reader (aria-current)
export function markOpen(row, open) {
  row.classList.toggle("selected", open);
  if (open) row.setAttribute("aria-current", "true");
  else row.removeAttribute("aria-current");
}

// --- keyed tables: rows are kept, changed in place or moved, never all rebuilt ---

// items: the rows wanted, in order; key(item) names a row; sign(item) says when it changed;
// render(item) makes its <tr>. Rows whose item did not change stay the same DOM nodes; a row
// replaced under the focus hands it to its new self, a row removed to a neighbour.
export function reconcile(tbody, items, { key, sign, render }) {
  const place = focusPlace(tbody);
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
  let neighbour = null;
  for (const row of kept.values()) {
    if (place && row.contains(document.activeElement)) neighbour = survivor(row, kept);
    row.remove();
  }
  if (place) restoreFocus(tbody, neighbour ? { key: neighbour.dataset.key, index: place.index ?? 0 } : place);
}

// the nearest row that stays, below the one leaving, else above it
function survivor(row, leaving) {
  const stays = (node) => node && !new Set(leaving.values()).has(node);
  for (let next = row.nextElementSibling; next; next = next.nextElementSibling) if (stays(next)) return next;
  for (let prev = row.previousElementSibling; prev; prev = prev.previousElementSibling) if (stays(prev)) return prev;
  return null;
}

export function emptyRow(columns, text) {
  return h("tr", { class: "empty" }, h("td", { colspan: columns }, text));
}
