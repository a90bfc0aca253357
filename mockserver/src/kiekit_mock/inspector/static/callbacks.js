// Every callback the mock owed, newest first, a page at a time (GET /_mock/callbacks?limit=
// &offset=, so thousands of records stay quick), with how it is set to send them (signing,
// copies, tampering; never the HMAC key, which the control API does not show either).

import { del, get, getPage } from "./api.js";
import { clear, clockTime, disable, emptyRow, h, listParts, markOpen, reconcile, replaceKeepingFocus, short, taskLink } from "./dom.js";
import { callbackCard } from "./tasks.js";

const PAGE = 100;

const HINT = "Click a callback to see its payload, headers and the receiver's answer.";

// a record's identity across reads (its index alone is reused once the records are forgotten)
const identity = (record) => JSON.stringify([record.task_id, record.url, record.copy, record.sent_at]);

export function callbacksView(ctx) {
  let selected = null; // {index, identity, sign} of the record open in the detail
  let records = [];
  let offset = 0;
  let total = 0;
  const settings = h("p", { class: "summary", id: "callback-settings" });
  const newer = h("button", { type: "button", id: "callbacks-newer", onclick: () => turn(-PAGE) }, "‹ Newer");
  const older = h("button", { type: "button", id: "callbacks-older", onclick: () => turn(PAGE) }, "Older ›");
  const tbody = h("tbody", { id: "callbacks-rows" });
  const detail = h("section", { class: "detail", id: "callback-detail", "aria-label": "callback detail" },
    h("p", { class: "muted" }, HINT));
  const forget = h("button", { type: "button", onclick: async () => {
    try {
      await del("/_mock/callbacks");
      ctx.toast("Callback records forgotten");
    } catch (error) {
      ctx.toast(error.message, "error");
    }
    ctx.refreshView();
  } }, "Forget callback records");

  const listing = listParts(
    h("table", { class: "rows clickable", id: "callbacks-table" },
      h("thead", {}, h("tr", {}, ["sent (mock)", "task", "to", "copy", "delivery", "receiver said"].map((c) => h("th", {}, c)))),
      tbody),
    "callback list");
  listing.pager.id = "callbacks-pager";
  listing.pager.append(newer, older);
  const el = h("section", { class: "view split", id: "view-callbacks" },
    h("div", { class: "pane" },
      h("div", { class: "toolbar" }, settings, forget),
      listing.skip, listing.wrap, listing.pager),
    detail);

  function turn(step) {
    offset = Math.max(0, offset + step);
    ctx.refreshView();
  }

  function row({ record, index }) {
    const tr = h("tr", { tabindex: 0, dataset: { index } },
      h("td", { class: "mono" }, clockTime(record.sent_at)),
      h("td", {}, taskLink(record.task_id)),
      h("td", { class: "mono path", title: record.url }, record.url),
      h("td", { class: "num" }, String(record.copy)),
      h("td", {}, record.delivered ? h("span", { class: "badge good" }, "delivered")
        : h("span", { class: record.reason === "pending" ? "badge wait" : "badge bad", title: record.reason }, record.reason === "pending" ? "in flight" : "not delivered")),
      h("td", {}, record.status !== null ? `HTTP ${record.status}` : "", record.answer ? h("span", { class: "muted" }, ` ${short(record.answer, 40)}`) : ""));
    if (selected && index === selected.index) markOpen(tr, true);
    const open = () => {
      for (const other of tbody.querySelectorAll("tr.selected")) markOpen(other, false);
      markOpen(tr, true);
      show(record, index);
      ctx.announce("Callback in the detail");
    };
    tr.addEventListener("click", (event) => {
      if (!event.target.closest("a")) open();
    });
    tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter") open();
    });
    return tr;
  }

  function show(record, index) {
    selected = { index, identity: identity(record), sign: JSON.stringify(record) };
    replaceKeepingFocus(detail, () => detail.querySelector("h2"),
      h("h2", { tabindex: -1 }, "Callback for ", taskLink(record.task_id, { whole: true })), callbackCard(record));
  }

  // the open detail follows its record as the row does (an "in flight" one gets delivered)
  function follow() {
    if (!selected) return;
    const found = records.find((r) => r.index === selected.index);
    if (!found) return; // on another page
    if (identity(found.record) !== selected.identity) {
      selected = null;
      clear(detail, h("p", { class: "muted" }, "The callback shown is no longer recorded (the records were forgotten). " + HINT));
    } else if (JSON.stringify(found.record) !== selected.sign) {
      show(found.record, found.index);
    }
  }

  return {
    name: "callbacks",
    el,
    topics: ["callbacks"],
    async refresh() {
      const fetchPage = () => getPage("/_mock/callbacks", { wait: 0, limit: PAGE, offset });
      const [mode, found] = await Promise.all([get("/_mock/callbacks/settings"), fetchPage()]);
      let page = found;
      if (offset && offset >= page.total) { // the records were forgotten: back to the newest
        offset = 0;
        page = await fetchPage();
      }
      total = page.total;
      const signing = mode.signing ? `signed (HMAC)${mode.tamper ? `, tampered: ${mode.tamper}` : ""}` : "unsigned";
      const last = total - offset;
      const shown = total ? `; showing ${Math.max(1, last - PAGE + 1)}–${last}, newest first` : "";
      clear(settings, `${total} callbacks${shown} · ${signing} · ${mode.copies} ${mode.copies === 1 ? "copy" : "copies"} each`);
      settings.dataset.total = String(total);
      // a record's index is its place among all records, oldest 0: it names the row across pages
      const first = last - page.items.length;
      records = page.items.map((record, n) => ({ record, index: first + n })).reverse();
      disable(newer, offset === 0, older);
      disable(older, offset + PAGE >= total, newer);
      if (!records.length) clear(tbody, emptyRow(6, "No callbacks yet: they are sent when a task with a callBackUrl ends."));
      else {
        if (tbody.querySelector("tr.empty")) tbody.replaceChildren();
        reconcile(tbody, records, { key: (r) => r.index, sign: (r) => JSON.stringify(r.record), render: row });
      }
      follow();
    },
    restart() {
      selected = null;
      offset = 0;
      tbody.replaceChildren();
      clear(detail, h("p", { class: "muted" }, "The mock restarted: the callbacks shown are the new one's. " + HINT));
    },
  };
}
