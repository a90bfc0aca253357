// The request journal, newest first: pages of PAGE records read from GET /_mock/journal.
// While the newest page is shown, new records are asked for `after` the last seq seen and put
// on top; the rows already there stay as they are, and the page keeps PAGE rows. Older pages
// are read with `before` and stay still while new requests arrive (a banner says so).

import { get } from "./api.js";
import { bytes, clear, clockDate, clockTime, codeBadge, emptyRow, h, short, taskLink } from "./dom.js";
import { jsonView, textView } from "./jsonview.js";

const PAGE = 100;
const FILTERS = ["kind", "method", "path", "task_id", "account_id"];

export function requestsView(ctx) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, ""]));
  let befores = [null]; // befores[p]: the `before` cursor of page p (page 0: the newest)
  let page = 0;
  let cursor = null; // the journal's last_seq when page 0 was last brought up to date
  let loaded = false; // the page `page` is on screen
  let more = false;
  const shown = new Map(); // seq -> record on this page
  let selected = null;

  const summary = h("p", { class: "summary", id: "requests-summary" }, "");
  const banner = h("p", { class: "banner", hidden: true }, "Newer requests arrived. ",
    h("button", { type: "button", onclick: () => newest() }, "Show the newest"));
  const tbody = h("tbody", { id: "requests-rows" });
  const older = h("button", { type: "button", id: "requests-older", onclick: () => turn(page + 1) }, "Older ›");
  const newer = h("button", { type: "button", id: "requests-newer", onclick: () => turn(page - 1) }, "‹ Newer");
  const detail = h("section", { class: "detail", id: "request-detail", "aria-label": "request detail" },
    h("p", { class: "muted" }, "Click a request to see what was sent and what the mock answered."));

  const inputs = {
    kind: h("select", { name: "kind", "aria-label": "kind" },
      ["", "create", "poll", "other"].map((k) => h("option", { value: k }, k || "any kind"))),
    method: h("select", { name: "method", "aria-label": "method" },
      ["", "GET", "POST", "PUT", "DELETE"].map((m) => h("option", { value: m }, m || "any method"))),
    path: h("input", { name: "path", placeholder: "path or glob: /api/v1/jobs/*", size: 24 }),
    task_id: h("input", { name: "task_id", placeholder: "task id", size: 16 }),
    account_id: h("input", { name: "account_id", placeholder: "account id", size: 14 }),
  };
  for (const [name, input] of Object.entries(inputs)) {
    input.addEventListener("change", () => {
      filters[name] = input.value.trim();
      newest();
    });
  }

  const el = h("section", { class: "view split", id: "view-requests" },
    h("div", { class: "pane" },
      h("form", { class: "toolbar", onsubmit: (e) => e.preventDefault() }, Object.values(inputs)),
      summary, banner,
      h("div", { class: "table-wrap" },
        h("table", { class: "rows clickable", id: "requests-table" },
          h("thead", {}, h("tr", {}, ["#", "time (mock)", "request", "kind", "answer", "fault / rule", "task", "account"].map((c) => h("th", {}, c)))),
          tbody)),
      h("div", { class: "pager" }, newer, older)),
    detail);

  function query(extra) {
    const wanted = {};
    for (const name of FILTERS) wanted[name] = filters[name];
    return { ...wanted, ...extra };
  }

  function row(record) {
    const query = Object.keys(record.query).length ? "?" + new URLSearchParams(record.query) : "";
    const row = h("tr", { tabindex: 0, dataset: { seq: record.seq, kind: record.kind } },
      h("td", { class: "num" }, `#${record.seq}`),
      h("td", { class: "mono" }, clockTime(record.at)),
      h("td", { class: "path", title: record.path + query },
        h("span", { class: "method" }, record.method), " ", h("span", { class: "mono" }, record.path),
        query ? h("span", { class: "mono muted" }, query) : ""),
      h("td", {}, h("span", { class: `tag ${record.kind}` }, record.kind)),
      h("td", {}, codeBadge(record.code, record.status)),
      h("td", {}, applied(record)),
      h("td", {}, taskLink(record.task_id)),
      h("td", { class: "mono", title: record.account_id || "" }, short(record.account_id, 10)));
    if (record.seq === selected) row.classList.add("selected");
    const open = () => select(record.seq);
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
    const range = answer.last_seq >= answer.first_seq
      ? `the journal holds ${answer.last_seq - answer.first_seq + 1} requests (#${answer.first_seq}–#${answer.last_seq})`
      : "the journal is empty";
    const first = tbody.rows[tbody.rows.length - 1];
    const top = tbody.rows[0];
    const showing = shown.size ? `; showing #${top.dataset.seq}–#${first.dataset.seq}` : "";
    clear(summary, range + showing + (FILTERS.some((n) => filters[n]) ? " (filtered)" : ""));
    summary.dataset.total = String(Math.max(0, answer.last_seq - answer.first_seq + 1));
  }

  function pager() {
    newer.disabled = page === 0;
    older.disabled = !more;
  }

  async function load() {
    const answer = await get("/_mock/journal", query({ limit: PAGE, before: befores[page] }));
    shown.clear();
    const rows = answer.requests.slice().reverse();
    for (const record of rows) shown.set(record.seq, record);
    clear(tbody, rows.length ? rows.map(row) : emptyRow(8, "No requests yet: point a client at this mock."));
    more = answer.more;
    if (rows.length) befores[page + 1] = rows[rows.length - 1].seq;
    if (page === 0) cursor = answer.last_seq;
    loaded = true;
    banner.hidden = true;
    pager();
    describe(answer);
  }

  async function catchUp() {
    const answer = await get("/_mock/journal", query({ after: cursor, limit: PAGE }));
    const oldest = Math.min(...shown.keys());
    if (answer.more || (shown.size && oldest < answer.first_seq) || answer.last_seq < cursor) {
      await load(); // more than a page arrived, or the journal was cleared: read it anew
      return;
    }
    cursor = answer.last_seq;
    if (answer.requests.length) {
      if (!shown.size) tbody.replaceChildren();
      const fresh = answer.requests.slice().reverse();
      tbody.prepend(...fresh.map(row));
      for (const record of fresh) shown.set(record.seq, record);
      while (tbody.rows.length > PAGE) {
        const last = tbody.rows[tbody.rows.length - 1];
        shown.delete(Number(last.dataset.seq));
        last.remove();
        more = true;
      }
      pager();
    }
    describe(answer);
  }

  function select(seq) {
    selected = seq;
    for (const row of tbody.querySelectorAll("tr.selected")) row.classList.remove("selected");
    const row = tbody.querySelector(`tr[data-seq="${seq}"]`);
    if (row) row.classList.add("selected");
    const record = shown.get(seq);
    if (record) clear(detail, recordDetail(record));
  }

  function newest() {
    page = 0;
    befores = [null];
    loaded = false;
    ctx.refreshView();
  }

  function turn(to) {
    page = Math.max(0, to);
    loaded = false;
    ctx.refreshView();
  }

  return {
    name: "requests",
    el,
    topics: ["journal"],
    async refresh({ quiet } = {}) {
      if (!loaded) await load();
      else if (page === 0) await catchUp();
      else if (!quiet) banner.hidden = false; // an older page stays still
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
      if (changed) newest();
    },
  };
}

function table(entries) {
  return h("dl", { class: "facts" }, entries.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function recordDetail(record) {
  const answer = record.answer;
  const query = Object.keys(record.query).length ? "?" + new URLSearchParams(record.query) : "";
  const parts = [
    h("h2", {}, `#${record.seq} `, h("span", { class: "method" }, record.method), " ", h("span", { class: "mono" }, record.path)),
    table([
      ["kind", record.kind],
      ["arrived", clockDate(record.at) + " · " + clockTime(record.at)],
      ["account", record.account_id && h("span", { class: "mono" }, record.account_id)],
      ["task", taskLink(record.task_id)],
      ["fault", record.fault],
      ["rules", (record.rules || []).length ? record.rules.map((id) => `rule ${id}`).join(", ") : ""],
    ]),
    h("h3", {}, "Request"),
    table([
      ["query", query && h("span", { class: "mono" }, query)],
      ["Authorization", record.authorization || "(none)"],
    ]),
    record.body === null ? h("p", { class: "muted" }, "no JSON body") : jsonView(record.body),
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
