// Outcome/lifecycle rules and fault rules in force, each with a form that adds one through
// the control API (POST /_mock/rules, POST /_mock/faults), which alone decides what is valid.

import { del, get, part, post } from "./api.js";
import { actionsHeader, clear, emptyRow, h, reconcile } from "./dom.js";
import { apiForm, pick } from "./forms.js";

const FAULT_KINDS = ["kie", "http", "slow", "reset", "empty", "malformed", "truncated"];

const RULE_FIELDS = [
  { name: "outcome_kind", label: "outcome", kind: "select", field: "outcome.kind",
    options: [["", "— none —"], "success", "fail", "moderation", "callback_fail",
      "create_failed"] },
  { name: "outcome_code", label: "failure code", kind: "number", field: "outcome.code", placeholder: "e.g. 501" },
  { name: "outcome_msg", label: "failure message", kind: "text", field: "outcome.msg" },
  { name: "lifecycle", label: "lifecycle", kind: "select", field: "lifecycle.mode",
    options: [["", "— none —"], "immediate", "manual", ["timed", "after polls / seconds"]] },
  { name: "polls", label: "polls", kind: "number", field: "lifecycle.polls", shown: (v) => v.lifecycle === "timed" },
  { name: "seconds", label: "seconds (mock)", kind: "number", field: "lifecycle.seconds", shown: (v) => v.lifecycle === "timed" },
  { name: "model", label: "model (id or glob)", kind: "text", placeholder: "kling-*" },
  // its options: the families this mock serves, extensions' too (GET /_mock/families)
  { name: "family", label: "family", kind: "select", options: [["", "any"]] },
  { name: "prompt_contains", label: "prompt contains", kind: "text" },
  { name: "prompt_regex", label: "prompt regex", kind: "text" },
  { name: "api_key", label: "API key (not kept)", kind: "secret" },
  { name: "account_id", label: "account id", kind: "text" },
  { name: "probability", label: "probability (0–1)", kind: "number" },
  { name: "seed", label: "seed", kind: "number" },
  { name: "times", label: "times", kind: "number", hint: "empty: every matching task" },
];

function ruleBody(values) {
  const body = pick(values, ["model", "family", "prompt_contains", "prompt_regex", "api_key", "account_id", "probability", "seed", "times"]);
  if (values.outcome_kind || values.outcome_code !== undefined || values.outcome_msg) {
    body.outcome = { kind: values.outcome_kind, code: values.outcome_code, msg: values.outcome_msg };
    for (const name of ["kind", "code", "msg"]) if (body.outcome[name] === undefined) delete body.outcome[name];
  }
  if (values.lifecycle === "immediate" || values.lifecycle === "manual") body.lifecycle = values.lifecycle;
  // "timed": the API refuses it without polls or seconds ({} alone would mean immediate)
  else if (values.lifecycle === "timed") body.lifecycle = { mode: "timed", ...pick(values, ["polls", "seconds"]) };
  return body;
}

const FAULT_FIELDS = [
  { name: "kind", label: "kind", kind: "select", options: FAULT_KINDS },
  { name: "method", label: "method", kind: "text", placeholder: "* or POST" },
  { name: "path", label: "path (glob)", kind: "text", placeholder: "/api/v1/jobs/*" },
  { name: "when", label: "when", kind: "select", options: [["", "before (nothing runs)"], ["after", "after (it runs, the answer is lost)"]] },
  { name: "status", label: "HTTP status", kind: "number", placeholder: "502", shown: (v) => v.kind === "http" },
  { name: "code", label: "KIE code", kind: "number", placeholder: "500", shown: (v) => v.kind === "kie" },
  { name: "msg", label: "KIE message", kind: "text", shown: (v) => v.kind === "kie" },
  { name: "delay", label: "delay (s)", kind: "number", shown: (v) => v.kind === "slow" },
  { name: "delay_clock", label: "delay clock", kind: "select", options: [["", "wall"], "mock"], shown: (v) => v.kind === "slow" },
  { name: "retry_after", label: "Retry-After (s)", kind: "number", shown: (v) => v.kind === "http" || v.kind === "kie" },
  { name: "times", label: "times", kind: "number", hint: "1: one-shot" },
  { name: "every", label: "every Nth", kind: "number" },
  { name: "probability", label: "probability", kind: "number" },
  { name: "seed", label: "seed", kind: "number" },
  { name: "api_key", label: "API key (not kept)", kind: "secret" },
  { name: "account", label: "account id", kind: "text" },
];

function describeRule(rule) {
  const when = [];
  if (rule.model) when.push(`model ${rule.model}`);
  if (rule.family) when.push(`family ${rule.family}`);
  if (rule.prompt_contains) when.push(`prompt contains “${rule.prompt_contains}”`);
  if (rule.prompt_regex) when.push(`prompt matches /${rule.prompt_regex}/`);
  if (rule.account_id) when.push(`account ${rule.account_id}`);
  if (rule.probability !== null) when.push(`p=${rule.probability}${rule.seed !== null ? ` seed ${rule.seed}` : ""}`);
  return when.length ? when.join(", ") : "every new task";
}

function gives(rule) {
  const parts = [];
  if (rule.outcome) {
    const extra = [rule.outcome.code !== null ? `code ${rule.outcome.code}` : "", rule.outcome.msg ? `“${rule.outcome.msg}”` : ""].filter(Boolean);
    parts.push(`outcome ${rule.outcome.kind}${extra.length ? ` (${extra.join(", ")})` : ""}`);
  }
  if (rule.lifecycle) {
    const life = rule.lifecycle;
    const timed = [life.polls ? `${life.polls} polls` : "", life.seconds ? `${life.seconds} s` : ""].filter(Boolean).join(" + ");
    parts.push(`lifecycle ${life.mode === "manual" || life.mode === "immediate" ? life.mode : timed}`);
  }
  return parts.join("; ");
}

function trigger(fault) {
  const parts = [];
  if (fault.times !== null) parts.push(`${fault.times}×`);
  if (fault.every !== null) parts.push(`every ${fault.every}`);
  if (fault.probability !== null) parts.push(`p=${fault.probability}`);
  return parts.join(", ") || "always";
}

function faultAnswer(fault) {
  const say = {
    http: `HTTP ${fault.status}`,
    kie: `code ${fault.code}${fault.msg ? ` “${fault.msg}”` : ""}`,
    slow: `+${fault.delay} s (${fault.delay_clock})`,
  }[fault.kind];
  return [h("span", { class: "badge fault" }, fault.kind), say ? ` ${say}` : "", fault.retry_after !== null ? ` Retry-After ${fault.retry_after}` : ""];
}

export function rulesView(ctx) {
  const ruleRows = h("tbody", { id: "rules-rows" });
  const faultRows = h("tbody", { id: "faults-rows" });

  async function act(message, change) {
    try {
      await change();
      ctx.toast(message);
    } catch (error) {
      ctx.toast(error.message, "error");
    }
    ctx.refreshView();
  }

  const ruleForm = apiForm({
    id: "rule-form",
    title: "Add a rule (applies to tasks created from now on)",
    fields: RULE_FIELDS,
    submit: "Add rule",
    build: ruleBody,
    send: (body) => post("/_mock/rules", body),
    done: (answer) => {
      ctx.toast(`Rule ${answer.rule.id} added`);
      ctx.refreshView();
    },
  });
  const faultForm = apiForm({
    id: "fault-form",
    title: "Add a fault (first matching rule answers)",
    fields: FAULT_FIELDS,
    submit: "Add fault",
    build: (values) => values,
    send: (body) => post("/_mock/faults", body),
    done: (answer) => {
      ctx.toast(`Fault ${answer.id} added`);
      ctx.refreshView();
    },
  });

  function ruleRow(rule) {
    return h("tr", { dataset: { rule: rule.id } },
      h("td", { class: "num" }, String(rule.id)),
      h("td", {}, describeRule(rule)),
      h("td", {}, gives(rule)),
      h("td", { class: "num" }, `${rule.applied}${rule.remaining !== null ? ` (${rule.remaining} left)` : ""}`),
      h("td", {}, rule.builtin
        ? h("span", { class: "muted", title: "[mock:fail] in a prompt fails the task; kept by clearing" }, "built-in")
        : h("button", { type: "button", class: "small", "aria-label": `remove rule ${rule.id}`,
          onclick: () => act(`Rule ${rule.id} removed`, () => del(`/_mock/rules/${part(String(rule.id))}`)) }, "Remove")));
  }

  function faultRow(fault) {
    return h("tr", { dataset: { fault: fault.id }, class: fault.exhausted ? "spent" : "" },
      h("td", { class: "mono" }, fault.id),
      h("td", {}, faultAnswer(fault)),
      h("td", { class: "mono" }, `${fault.method} ${fault.path}`, fault.account ? h("span", { class: "muted" }, ` · ${fault.account}`) : ""),
      h("td", {}, fault.when),
      h("td", {}, trigger(fault)),
      h("td", { class: "num" }, `${fault.fired} / ${fault.matched}`),
      h("td", {}, h("button", { type: "button", class: "small", "aria-label": `remove ${fault.id}`,
        onclick: () => act(`${fault.id} removed`, () => del(`/_mock/faults/${part(fault.id)}`)) }, "Remove")));
  }

  const el = h("section", { class: "view stack", id: "view-rules" },
    h("div", { class: "card" },
      h("div", { class: "card-head" }, h("h2", { tabindex: -1 }, "Outcome and lifecycle rules"),
        h("button", { type: "button", onclick: () => act("Added rules cleared", () => del("/_mock/rules")) }, "Clear added rules")),
      h("p", { class: "muted" }, "A new task gets its outcome, and its lifecycle, from the first matching rule that sets it."),
      h("table", { class: "rows", id: "rules-table" },
        h("thead", {}, h("tr", {}, ["id", "matches", "gives", "applied"].map((c) => h("th", {}, c)), actionsHeader())), ruleRows),
      ruleForm.form),
    h("div", { class: "card" },
      h("div", { class: "card-head" }, h("h2", { tabindex: -1 }, "Faults"),
        h("button", { type: "button", onclick: () => act("Fault rules cleared", () => del("/_mock/faults")) }, "Clear faults")),
      h("p", { class: "muted" }, "Rules that make the mock, or the network in front of it, misbehave on chosen requests."),
      h("table", { class: "rows", id: "faults-table" },
        h("thead", {}, h("tr", {}, ["id", "answers", "requests", "when", "fires", "fired / matched"].map((c) => h("th", {}, c)), actionsHeader())), faultRows),
      faultForm.form));

  let families = null;

  async function readFamilies() {
    if (families !== null) return;
    families = (await get("/_mock/families")).families;
    const select = ruleForm.inputs.get("family");
    const chosen = select.value;
    clear(select, [["", "any"], ...families.map((f) => [f, f])].map(([value, label]) =>
      h("option", { value, selected: value === chosen }, label)));
  }

  return {
    name: "rules",
    el,
    topics: ["rules", "faults"],
    restart() {
      families = null; // another mock: its extensions may differ
    },
    async refresh() {
      await readFamilies();
      const [rules, faults] = await Promise.all([get("/_mock/rules"), get("/_mock/faults")]);
      if (tbodyEmpty(ruleRows)) ruleRows.replaceChildren();
      reconcile(ruleRows, rules.rules, { key: (r) => r.id, sign: (r) => JSON.stringify(r), render: ruleRow });
      if (!faults.length) clear(faultRows, emptyRow(7, "No faults: every request is answered normally."));
      else {
        if (tbodyEmpty(faultRows)) faultRows.replaceChildren();
        reconcile(faultRows, faults, { key: (f) => f.id, sign: (f) => JSON.stringify(f), render: faultRow });
      }
    },
  };
}

function tbodyEmpty(tbody) {
  return Boolean(tbody.querySelector("tr.empty"));
}
