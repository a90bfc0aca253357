// Accounts (by id: the mock never keeps or shows a key) with their credits, and KIE's rate
// limits: which are on, and what each sliding window holds now on the mock clock.

import { del, get, post, put } from "./api.js";
import { clear, emptyRow, h, number, reconcile } from "./dom.js";
import { apiForm } from "./forms.js";

const LIMITS = [
  ["creates_per_10s", "new tasks per 10 s, per account"],
  ["record_info_per_second", "jobs/recordInfo per second, per key"],
  ["task_polls_per_second", "4o Image / Suno record-info per second, per task"],
];

export function accountsView(ctx) {
  const accountRows = h("tbody", { id: "accounts-rows" });
  const windowRows = h("tbody", { id: "windows-rows" });
  const limitsLine = h("p", { class: "summary", id: "limits-summary" });
  let windows = [];

  async function act(message, change) {
    try {
      await change();
      ctx.toast(message);
    } catch (error) {
      ctx.toast(error.message, "error");
    }
    ctx.refreshView();
  }

  const accountForm = apiForm({
    id: "account-form",
    title: "Open or change an account",
    fields: [
      { name: "api_key", label: "API key (sent, never shown)", kind: "secret" },
      { name: "credits", label: "credits", kind: "number" },
      { name: "max_creates_per_10s", label: "own create limit / 10 s", kind: "number" },
    ],
    submit: "Save account",
    build: (values) => values,
    send: (body) => post("/_mock/accounts", body),
    done: (answer) => {
      ctx.toast(`Account ${answer.account.account_id} saved`);
      ctx.refreshView();
    },
  });

  const limitsForm = apiForm({
    id: "limits-form",
    title: "Set limits (empty: off)",
    fields: LIMITS.map(([name, label]) => ({ name, label, kind: "number" })),
    submit: "Apply limits",
    reset: false,
    build: (values) => Object.fromEntries(LIMITS.map(([name]) => [name, values[name] ?? null])),
    send: (body) => put("/_mock/limits", body),
    done: () => {
      ctx.toast("Limits set");
      ctx.refreshView();
    },
  });

  function createWindow(accountId) {
    return windows.find((w) => w.limit === "creates" && w.account_id === accountId);
  }

  function accountRow(account) {
    const window = createWindow(account.account_id);
    return h("tr", { dataset: { account: account.account_id } },
      h("td", { class: "mono" }, account.account_id),
      h("td", { class: "num credits" }, number(account.credits)),
      h("td", { class: "num" }, account.max_creates_per_10s === null ? h("span", { class: "muted" }, "the mock's") : String(account.max_creates_per_10s)),
      h("td", { class: "num" }, String(account.tasks)),
      h("td", {}, window ? usage(window) : h("span", { class: "muted" }, "0 in the last 10 s")));
  }

  function windowRow(window) {
    return h("tr", { dataset: { limit: window.limit } },
      h("td", {}, window.limit),
      h("td", { class: "mono" }, window.account_id),
      h("td", { class: "mono" }, window.task_id || ""),
      h("td", {}, usage(window)));
  }

  const el = h("section", { class: "view stack", id: "view-accounts" },
    h("div", { class: "card" },
      h("h2", { tabindex: -1 }, "Accounts"),
      h("p", { class: "muted" }, "Each API key is its own account, known by an id derived from the key."),
      h("table", { class: "rows", id: "accounts-table" },
        h("thead", {}, h("tr", {}, ["account", "credits", "create limit", "tasks", "creates window"].map((c) => h("th", {}, c)))), accountRows),
      accountForm.form),
    h("div", { class: "card" },
      h("div", { class: "card-head" }, h("h2", { tabindex: -1 }, "Rate limits"),
        h("div", { class: "actions" },
          h("button", { type: "button", id: "limits-documented", onclick: () => act("KIE's documented limits on", () => put("/_mock/limits", { documented: true })) }, "KIE's documented limits"),
          h("button", { type: "button", onclick: () => act("Limits off", () => put("/_mock/limits", { documented: false })) }, "All off"),
          h("button", { type: "button", onclick: () => act("Windows emptied", () => del("/_mock/limits/windows")) }, "Empty windows"))),
      limitsLine,
      h("table", { class: "rows", id: "windows-table" },
        h("thead", {}, h("tr", {}, ["window", "account", "task", "holds"].map((c) => h("th", {}, c)))), windowRows),
      limitsForm.form));

  return {
    name: "accounts",
    el,
    topics: ["accounts", "limits", "tasks"],
    async refresh() {
      const [accounts, limits, found] = await Promise.all([
        get("/_mock/accounts"), get("/_mock/limits"), get("/_mock/limits/windows")]);
      windows = found.windows;
      clear(limitsLine, LIMITS.map(([name, label]) => h("span", { class: "limit" },
        h("strong", {}, limits[name] === null ? "off" : String(limits[name])), ` ${label}`)));
      for (const [name] of LIMITS) {
        const input = limitsForm.inputs.get(name);
        if (document.activeElement !== input) limitsForm.set(name, limits[name]);
      }
      if (!accounts.accounts.length) clear(accountRows, emptyRow(5, "No accounts yet: one opens at a key's first request."));
      else {
        if (accountRows.querySelector("tr.empty")) accountRows.replaceChildren();
        reconcile(accountRows, accounts.accounts, {
          key: (a) => a.account_id,
          sign: (a) => JSON.stringify([a, createWindow(a.account_id)]),
          render: accountRow,
        });
      }
      if (!windows.length) clear(windowRows, emptyRow(4, "No window holds a request now."));
      else {
        if (windowRows.querySelector("tr.empty")) windowRows.replaceChildren();
        reconcile(windowRows, windows, {
          key: (w) => `${w.limit}|${w.account_id}|${w.task_id || ""}`,
          sign: (w) => JSON.stringify(w),
          render: windowRow,
        });
      }
    },
  };
}

function usage(window) {
  const limit = window.allowed === null ? "no limit" : `limit ${window.allowed}`;
  const full = window.allowed !== null && window.used >= window.allowed;
  return h("span", { class: full ? "badge bad" : "badge plain", dataset: { used: window.used } },
    `${window.used} in the last ${number(window.seconds)} s · ${limit}`);
}
