// The request journal, newest first: pages of PAGE records read from GET /_mock/journal, without
// their bodies (bodies=0: a list reload never carries megabytes); a click reads that one record
// in full (GET /_mock/journal/{seq}). While the newest page is shown, new records are asked for
// `after` the last seq seen and put on top; the rows already there stay as they are, and the
// page keeps PAGE rows. Older pages are read with `before` and stay still while new requests
// arrive (a banner says so). The page reads the journal anew when what it shows may be stale:
// another mock answers (its `instance` changed: a restart, its seqs began again), records it
// shows were forgotten (a per-account reset: `forgotten` moved) or let go (`first_seq` moved).

import { get, part } from "./api.js";
import { bytes, clear, clockDate, clockTime, codeBadge, disable, emptyRow, focusPlace, h, idText, listParts, markOpen, replaceKeepingFocus, restoreFocus, taskLink } from "./dom.js";
import { jsonView, textView } from "./jsonview.js";

const PAGE = 100;
const FILTERS = ["kind", "method", "path", "task_id", "account_id"];
const HINT = "Click a request to see what was sent and what the mock answered.";

export function requestsView(ctx) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, ""]));
  let befores = [null]; // befores[p]: the `before` cursor of page p (page 0: the newest)
  let page = 0;
  let cursor = null; // the journal's last_seq when page 0 was last brought up to date
  let loaded = false; // the page `page` is on screen
  let more = false;
  const shown = new Map(); // seq -> record (without bodies) on this page
  let selected = null;
  // what the journal was when last read: another instance, forgotten or dropped records
  // make what is on screen stale
  let seen = null; // {instance, forgotten, first_seq}
  let matched = null; // with filters: how many records match, all pages together (null: unknown)
  // what is asked for changes (filters, page, a restart) while a read is on its way: the
  // answer is for what was asked before and is dropped, and `loaded` stays false, so the read
  // that follows (app.js runs one after) reads anew. Else the old filter's rows stayed on screen.
  let asked = 0;

  const summary = h("p", { class: "summary", id: "requests-summary" }, "");
  const banner = h("p", { class: "banner", id: "requests-banner", hidden: true }, "Newer requests arrived. ",
    h("button", { type: "button", onclick: () => newest() }, "Show the newest"));
  const tbody = h("tbody", { id: "requests-rows" });
  const older = h("button", { type: "button", id: "requests-older", onclick: () => turn(page + 1) }, "Older ›");
  const newer = h("button", { type: "button", id: "requests-newer", onclick: () => turn(page - 1) }, "‹ Newer");
  const detail = h("section", { class: "detail", id: "request-detail", "aria-label": "request detail" },
    h("p", { class: "muted" }, HINT));

  const inputs = {
    kind: h("select", { name: "kind", "aria-label": "kind" },
      ["", "create", "poll", "other"].map((k) => h("option", { value: k }, k || "any kind"))),
    method: h("select", { name: "method", "aria-label": "method" },
      ["", "GET", "POST", "PUT", "DELETE"].map((m) => h("option", { value: m }, m || "any method"))),
    path: h("input", { name: "path", "aria-label": "path or glob", placeholder: "path or glob: /api/v1/jobs/*", size: 24 }),
    task_id: h("input", { name: "task_id", "aria-label": "task id", placeholder: "task id", size: 16 }),
    account_id: h("input", { name: "account_id", "aria-label": "account id", placeholder: "account id", size: 14 }),
  };
  for (const [name, input] of Object.entries(inputs)) {
    input.addEventListener("change", () => {
      filters[name] = input.value.trim();
      matched = null;
      newest();
    });
  }

  const listing = listParts(
    h("table", { class: "rows clickable", id: "requests-table" },
      h("thead", {}, h("tr", {}, ["#", "time (mock)", "request", "kind", "answer", "fault / rule", "task", "account"].map((c) => h("th", {}, c)))),
      tbody),
    "request list");
  listing.pager.id = "requests-pager";
  listing.pager.append(newer, older);
  const el = h("section", { class: "view split", id: "view-requests" },
    h("div", { class: "pane" },
      h("form", { class: "toolbar", onsubmit: (e) => e.preventDefault() }, Object.values(inputs)),
      summary, banner, listing.skip, listing.wrap, listing.pager),
    detail);

  const filtered = () => FILTERS.some((name) => filters[name]);

  function query(extra) {
    const wanted = { bodies: 0 };
    for (const name of FILTERS) wanted[name] = filters[name];
    return { ...wanted, ...extra };
  }

  function row(record) {
    const query = Object.keys(record.query).length ? "?" + new URLSearchParams(record.query) : "";
    const row = h("tr", { tabindex: 0, dataset: { seq: record.seq, kind: record.kind, key: record.seq } },
      h("td", { class: "num" }, `#${record.seq}`),
      h("td", { class: "mono" }, clockTime(record.at)),
      h("td", { class: "path", title: record.path + query },
        h("span", { class: "method" }, record.method), " ", h("span", { class: "mono" }, record.path),
        query ? h("span", { class: "mono muted" }, query) : ""),
      h("td", {}, h("span", { class: `tag ${record.kind}` }, record.kind)),
      h("td", {}, codeBadge(record.code, record.status)),
      h("td", {}, applied(record)),
      h("td", {}, taskLink(record.task_id)),
      h("td", {}, idText(record.account_id)));
    if (record.seq === selected) markOpen(row, true);
    const open = () => select(record.seq).catch((error) => ctx.toast(`Could not read the mock: ${error.message}`, "error"));
    row.addEventListener("click", (event) => {
      if (!event.target.closest("a")) open();
    });
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") open();
    });
    return row;
  }

  function applied(record) {
    const marks = [];
    if (record.fault) marks.push(h("span", { class: "badge fault", title: "the fault rule or rate limit that answered" }, record.fault));
    for (const id of record.rules || []) marks.push(h("span", { class: "badge rule", title: "an outcome/lifecycle rule its task got" }, `rule ${id}`));
    return marks;
  }

  function describe(answer) {
    const first = tbody.rows[tbody.rows.length - 1];
    const top = tbody.rows[0];
    const showing = shown.size ? `; showing #${top.dataset.seq}–#${first.dataset.seq}` : "";
    let said;
    if (filtered()) {
      said = `${matched ?? "?"} of the journal's ${answer.held} requests match the filters`;
    } else {
      said = answer.held ? `the journal holds ${answer.held} requests (#${answer.first_seq}–#${answer.last_seq})` : "the journal is empty";
    }
    clear(summary, said + showing);
    summary.dataset.total = String(filtered() ? matched ?? "" : answer.held);
  }

  function nothing(answer) {
    if (filtered()) {
      const cut = ["task_id", "account_id"].some((name) => filters[name].includes("…"));
      return `No request matches these filters (the journal holds ${answer.held}).` +
        (cut ? " An id with “…” is cut short: copy the whole id (the table's ids copy whole)." : "");
    }
    return answer.held ? "No requests on this page." : "No requests yet: point a client at this mock.";
  }

  function stale(answer) {
    return seen === null || answer.instance !== seen.instance || answer.forgotten !== seen.forgotten ||
      answer.first_seq !== seen.first_seq;
  }

  function restarted(answer) {
    return seen !== null && answer.instance !== seen.instance;
  }

  function remember(answer) {
    seen = { instance: answer.instance, forgotten: answer.forgotten, first_seq: answer.first_seq };
  }

  async function load() {
    // with filters, the matches are counted once (the newest page's read counts them all),
    // then kept up to date by catchUp
    const mine = asked;
    const counting = () => (filtered() && matched === null && page === 0 ? 1 : undefined);
    let answer = await get("/_mock/journal", query({ limit: PAGE, before: befores[page], count: counting() }));
    if (mine !== asked) return;
    if (restarted(answer)) {
      forgetAll();
      answer = await get("/_mock/journal", query({ limit: PAGE, count: counting() }));
      if (mine !== asked) return;
    }
    if (filtered() && matched === null) {
      const count = answer.matched ?? (await get("/_mock/journal", query({ limit: 1, count: 1 }))).matched;
      if (mine !== asked) return;
      matched = count;
    }
    remember(answer);
    shown.clear();
    const rows = answer.requests.slice().reverse();
    for (const record of rows) shown.set(record.seq, record);
    replaceKeepingFocus(tbody, null, rows.length ? rows.map(row) : emptyRow(8, nothing(answer)));
    more = answer.more;
    if (rows.length) befores[page + 1] = rows[rows.length - 1].seq;
    if (page === 0) cursor = answer.last_seq;
    loaded = true;
    banner.hidden = true;
    pager();
    describe(answer);
  }

  async function catchUp() {
    const mine = asked;
    const answer = await get("/_mock/journal", query({ after: cursor, limit: PAGE, count: filtered() ? 1 : undefined }));
    if (mine !== asked) return;
    if (restarted(answer)) {
      forgetAll();
      await load();
      return;
    }
    if (stale(answer) || answer.last_seq < cursor) {
      // records on screen were forgotten or let go, or the journal was cleared: read it anew
      matched = null;
      await load();
      return;
    }
    if (matched !== null && answer.matched !== null) matched += answer.matched;
    if (answer.more) {
      await load(); // more than a page arrived
      return;
    }
    cursor = answer.last_seq;
    if (answer.requests.length) {
      const place = focusPlace(tbody);
      if (!shown.size) tbody.replaceChildren();
      const fresh = answer.requests.slice().reverse();
      tbody.prepend(...fresh.map(row));
      for (const record of fresh) shown.set(record.seq, record);
      let focused = false; // a row pushed off the page under the focus: to the page's last row
      while (tbody.rows.length > PAGE) {
        const last = tbody.rows[tbody.rows.length - 1];
        shown.delete(Number(last.dataset.seq));
        focused = focused || last.contains(document.activeElement);
        last.remove();
        more = true;
      }
      const bottom = tbody.rows[tbody.rows.length - 1];
      restoreFocus(tbody, focused ? { key: bottom.dataset.key, index: place.index } : place);
      pager();
    }
    describe(answer);
  }

  function pager() {
    disable(newer, page === 0, older);
    disable(older, !more, newer);
  }

  async function select(seq) {
    selected = seq;
    for (const row of tbody.querySelectorAll("tr.selected")) markOpen(row, false);
    const row = tbody.querySelector(`tr[data-seq="${seq}"]`);
    if (row) markOpen(row, true);
    clear(detail, h("p", { class: "muted" }, `Reading request #${seq}…`));
    let found;
    try {
      found = await get(`/_mock/journal/${part(String(seq))}`);
    } catch (error) {
      if (selected !== seq) return;
      if (error.status !== 404) throw error;
      clear(detail, h("p", { class: "muted" }, `Request #${seq} is no longer in the journal: it was forgotten (a reset) or let go (--journal-limit).`));
      return;
    }
    if (selected !== seq) return; // another row was clicked meanwhile
    if (seen !== null && found.instance !== seen.instance) {
      ctx.refreshView(); // another mock answers now: the list is read anew first
      return;
    }
    replaceKeepingFocus(detail, () => detail.querySelector("h2"), recordDetail(found.request));
    ctx.announce(`Request #${seq} in the detail`);
  }

  // another mock answers (a restart): nothing of the old one's stays on screen
  function forgetAll() {
    seen = null;
    matched = null;
    selected = null;
    page = 0;
    befores = [null];
    cursor = null;
    shown.clear();
    tbody.replaceChildren();
    clear(detail, h("p", { class: "muted" }, "The mock restarted: the requests shown are the new one's. " + HINT));
  }

  function newest() {
    page = 0;
    befores = [null];
    loaded = false;
    asked += 1;
    ctx.refreshView();
  }

  function turn(to) {
    page = Math.max(0, to);
    loaded = false;
    asked += 1;
    ctx.refreshView();
  }

  return {
    name: "requests",
    el,
    topics: ["journal"],
    async refresh({ quiet } = {}) {
      if (!loaded) await load();
      else if (page === 0) await catchUp();
      else if (!quiet && banner.hidden) { // an older page stays still
        banner.hidden = false;
        ctx.announce("Newer requests arrived.");
      }
    },
    restart() {
      forgetAll();
      loaded = false;
      asked += 1;
    },
    route(param) {
      // #requests/task_id=… (a task's requests), or #requests alone
      const wanted = new URLSearchParams(param || "");
      let changed = false;
      for (const name of FILTERS) {
        const value = wanted.get(name) || "";
        if (param !== undefined && filters[name] !== value) {
          filters[name] = value;
          inputs[name].value = value;
          changed = true;
        }
      }
      if (changed) {
        matched = null;
        newest();
      }
    },
  };
}

function table(entries) {
  return h("dl", { class: "facts" }, entries.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function requestBody(record) {
  if (record.body_truncated) {
    const note = h("p", { class: "muted", id: "request-body-note" },
      `A large body (${bytes(record.body_size)}): only a preview is kept — long strings cut to their start, data: URLs to their header.`);
    return record.body === null ? [note, h("p", { class: "muted" }, "It was not a JSON object: nothing of it is kept.")] : [note, jsonView(record.body)];
  }
  if (record.body === null) return h("p", { class: "muted" }, record.body_size ? `A body of ${bytes(record.body_size)}, not a JSON object: not kept.` : "no JSON body");
  return jsonView(record.body);
}

export function recordDetail(record) {
  const answer = record.answer;
  const query = Object.keys(record.query).length ? "?" + new URLSearchParams(record.query) : "";
  const parts = [
    h("h2", { tabindex: -1 }, `#${record.seq} `, h("span", { class: "method" }, record.method), " ", h("span", { class: "mono" }, record.path)),
    table([
      ["kind", record.kind],
      ["arrived", clockDate(record.at) + " · " + clockTime(record.at)],
      ["account", record.account_id && h("span", { class: "mono" }, record.account_id)],
      ["task", taskLink(record.task_id, { whole: true })],
      ["fault", record.fault],
      ["rules", (record.rules || []).length ? record.rules.map((id) => `rule ${id}`).join(", ") : ""],
    ]),
    h("h3", {}, "Request"),
    table([
      ["query", query && h("span", { class: "mono" }, query)],
      ["Authorization", record.authorization || "(none)"],
      ["body size", record.body_size ? bytes(record.body_size) : ""],
    ]),
    requestBody(record),
    h("h3", {}, "Answer"),
    table([
      ["HTTP status", record.status === 0 ? "none: the connection was reset" : String(record.status)],
      ["body code", record.code === null ? "" : String(record.code)],
      ["content type", answer && answer.content_type],
      ["size", answer && bytes(answer.size)],
    ]),
  ];
  if (!answer) {
    parts.push(h("p", { class: "muted" }, "Nothing was sent back."));
    return parts;
  }
  const headers = Object.entries(answer.headers || {});
  if (headers.length) {
    parts.push(h("details", {}, h("summary", {}, `headers (${headers.length})`),
      table(headers.map(([name, value]) => [name, value]))));
  }
  if ("json" in answer) parts.push(jsonView(answer.json));
  else if ("text" in answer) parts.push(textView(answer.text));
  else if (answer.streamed) parts.push(h("p", { class: "muted" }, "Sent as a stream (server-sent events, or cut short by a fault): the body is not kept."));
  else parts.push(h("p", { class: "muted" }, `A binary body (${bytes(answer.size)}), not kept.`));
  if (answer.cut) parts.push(h("p", { class: "muted" }, "Only the start of the body is kept."));
  return parts;
}
