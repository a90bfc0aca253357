// Tasks, newest first (GET /_mock/tasks, a page at a time), and one task in detail: its
// lifecycle and progress, its callbacks (owed, sent, and what the receiver answered), the
// requests that named it, and buttons that advance, complete or fail it.

import { get, part, post, put } from "./api.js";
import { clear, clockTime, codeBadge, disable, emptyRow, h, idText, listParts, markOpen, number, reconcile, replaceKeepingFocus, short, stateBadge } from "./dom.js";
import { jsonView } from "./jsonview.js";

const PAGE = 100;
const STAGES = ["waiting", "queuing", "generating"];
const OUTCOMES = ["success", "fail", "moderation", "callback_fail", "create_failed"];

export function tasksView(ctx) {
  const filters = { state: "", family: "", account_id: "" };
  let offset = 0;
  let total = 0;
  let selected = null;
  let shownSign = "";
  let pending = null; // {task, kind}: an outcome chosen in the detail, not yet set

  const summary = h("p", { class: "summary", id: "tasks-summary" });
  const tbody = h("tbody", { id: "tasks-rows" });
  const newer = h("button", { type: "button", onclick: () => turn(-PAGE) }, "‹ Newer");
  const older = h("button", { type: "button", onclick: () => turn(PAGE) }, "Older ›");
  const detail = h("section", { class: "detail", id: "task-detail", "aria-label": "task detail" },
    h("p", { class: "muted" }, "Click a task to see its lifecycle and callbacks, and to steer it."));

  let families = null; // the families this mock serves (GET /_mock/families), read once
  const inputs = {
    state: h("select", { name: "state", "aria-label": "state" },
      ["", ...STAGES, "success", "fail"].map((s) => h("option", { value: s }, s || "any state"))),
    family: h("select", { name: "family", "aria-label": "family" }, h("option", { value: "" }, "any family")),
    account_id: h("input", { name: "account_id", "aria-label": "account id", placeholder: "account id", size: 14 }),
  };
  for (const [name, input] of Object.entries(inputs)) {
    input.addEventListener("change", () => {
      filters[name] = input.value.trim();
      offset = 0;
      ctx.refreshView();
    });
  }

  const listing = listParts(
    h("table", { class: "rows clickable", id: "tasks-table" },
      h("thead", {}, h("tr", {}, ["task", "family", "model", "account", "state", "progress", "outcome", "callback", "created (mock)"].map((c) => h("th", {}, c)))),
      tbody),
    "task list");
  listing.pager.id = "tasks-pager";
  listing.pager.append(newer, older);
  const el = h("section", { class: "view split", id: "view-tasks" },
    h("div", { class: "pane" },
      h("form", { class: "toolbar", onsubmit: (e) => e.preventDefault() }, Object.values(inputs)),
      summary, listing.skip, listing.wrap, listing.pager),
    detail);

  function row(task) {
    const row = h("tr", { tabindex: 0, dataset: { task: task.task_id, state: shownState(task) } },
      h("td", {}, idText(task.task_id)),
      h("td", {}, task.family, task.replay ? [" ", h("span", { class: "badge plain", title: "its client is answered from a loaded recording (HAR)" }, "replay")] : ""),
      h("td", { class: "mono" }, task.model),
      h("td", {}, idText(task.account_id)),
      h("td", {}, stateBadge(shownState(task))),
      h("td", {}, progressBar(task)),
      h("td", {}, outcomeText(task.outcome)),
      h("td", { class: "callback", title: task.callback_url || "no callBackUrl" }, callbackState(task)),
      h("td", { class: "mono" }, clockTime(task.created_ms / 1000)));
    if (task.task_id === selected) markOpen(row, true);
    const open = () => ctx.go(`tasks/${encodeURIComponent(task.task_id)}`);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") open();
    });
    return row;
  }

  async function readFamilies() {
    if (families !== null) return;
    families = (await get("/_mock/families")).families;
    const chosen = inputs.family.value;
    clear(inputs.family, ["", ...families].map((f) => h("option", { value: f, selected: f === chosen }, f || "any family")));
  }

  async function list() {
    await readFamilies();
    const answer = await get("/_mock/tasks", { ...filters, limit: PAGE, offset });
    total = answer.total;
    const tasks = answer.tasks.slice().reverse();
    if (!tasks.length) clear(tbody, emptyRow(9, total ? "No tasks on this page." : "No tasks yet."));
    else {
      if (tbody.querySelector("tr.empty")) tbody.replaceChildren();
      reconcile(tbody, tasks, { key: (t) => t.task_id, sign: (t) => JSON.stringify(t) + (t.task_id === selected), render: row });
    }
    const first = total - offset;
    clear(summary, total ? `${total} tasks; showing ${Math.max(1, first - PAGE + 1)}–${first}, newest first` : "");
    summary.dataset.total = String(total);
    disable(newer, offset === 0, older);
    disable(older, offset + PAGE >= total, newer);
  }

  async function showDetail() {
    if (!selected) return;
    const id = selected;
    let task;
    try {
      task = (await get(`/_mock/tasks/${part(id)}`)).task;
    } catch (error) {
      if (error.status === 404) {
        const why = await missing(id);
        if (selected === id) replaceKeepingFocus(detail, null, h("p", { class: "muted", id: "task-missing", tabindex: -1 }, why));
        shownSign = "";
        return;
      }
      throw error;
    }
    const [callbacks, journal] = await Promise.all([
      get("/_mock/callbacks", { task_id: id, wait: 0 }),
      get("/_mock/journal", { task_id: id, limit: 50, bodies: 0 }),
    ]);
    const sign = JSON.stringify([task, callbacks, journal.requests.map((r) => r.seq)]);
    if (sign === shownSign || selected !== id) return; // nothing new: the buttons stay put
    const opened = !shownSign;
    shownSign = sign;
    // rebuilt under the focus: it stays on the same button (by id), or goes to the heading
    // when that button is gone or disabled (the task ended)
    replaceKeepingFocus(detail, () => detail.querySelector("h2"), taskDetail(task, callbacks, journal));
    if (opened) ctx.announce(`Task ${short(id)} in the detail, ${shownState(task)}`);
  }

  // why the mock has no such task: the journal tells whether this mock ever created it
  async function missing(id) {
    const creates = await get("/_mock/journal", { task_id: id, kind: "create", limit: 1, bodies: 0 });
    if (creates.requests.length) {
      return `The mock no longer holds task ${id}, created by request #${creates.requests[0].seq}: ` +
        "a reset forgot it, or it was let go (finished tasks past --task-limit are, and those " +
        "that ended over --record-days ago, as KIE keeps records 2 months).";
    }
    return `This mock has no task ${id}, and its journal holds no create of it: ` +
      "requests named an id it never made (KIE answers those “not found”), or the mock restarted or was reset since.";
  }

  function taskDetail(task, callbacks, journal) {
    const final = isFinal(task);
    // chosen with arrow keys, set by its button: Chromium fires `change` at every arrow key
    // on a closed select, and each would have been a real change to the mock
    const chosen = pending && pending.task === task.task_id ? pending.kind : task.outcome.kind;
    const outcome = h("select", { name: "outcome", id: "task-outcome", "aria-label": "planned outcome", disabled: final },
      OUTCOMES.map((kind) => h("option", { value: kind, selected: chosen === kind }, kind)));
    outcome.addEventListener("change", () => { pending = { task: task.task_id, kind: outcome.value }; });
    const path = `/_mock/tasks/${part(task.task_id)}`;
    const setOutcome = () => act(`Outcome of ${short(task.task_id)} set to ${outcome.value}`, async () => {
      await put(`${path}/outcome`, outcome.value);
      pending = null;
    });
    return [
      h("h2", { tabindex: -1 }, "Task ", h("span", { class: "mono", id: "task-detail-id" }, task.task_id), " ", stateBadge(shownState(task))),
      h("div", { class: "actions", role: "group", "aria-label": "steer this task" },
        h("button", { type: "button", id: "task-advance", disabled: final, title: "one state on (to the end once due)",
          onclick: () => act(`Advanced ${short(task.task_id)}`, () => post(`${path}/advance`)) }, "Advance"),
        h("button", { type: "button", id: "task-complete", disabled: final, title: "to the end now, with the planned outcome",
          onclick: () => act(`Completed ${short(task.task_id)}`, () => post(`${path}/complete`)) }, "Complete"),
        h("button", { type: "button", id: "task-fail", class: "danger", disabled: final, title: "end it now as a generation failure",
          onclick: () => act(`Failed ${short(task.task_id)}`, async () => {
            await put(`${path}/outcome`, "fail");
            return post(`${path}/complete`);
          }) }, "Fail"),
        h("label", { class: "inline" }, "planned outcome ", outcome),
        h("button", { type: "button", id: "task-outcome-set", disabled: final, onclick: setOutcome }, "Set outcome")),
      stepper({ ...task, state: shownState(task) }),
      facts([
        ["family", task.family],
        ["model", h("span", { class: "mono" }, task.model)],
        ["account", h("span", { class: "mono" }, task.account_id)],
        ["replay", replayText(task)],
        ["lifecycle", task.replay && task.replay.then === "recording"
          ? "the recording's: the mock's twin of it (manual) ends when the recording shows the end"
          : lifecycleText(task)],
        ["polls", String(pollsOf(task)) + (task.replay ? " (status queries of its client)" : "")],
        ["outcome", outcomeText(task.outcome)],
        ["rules", task.rules.length ? task.rules.map((id) => `rule ${id}`).join(", ") : "none (the mock's defaults)"],
        ["credits", number(task.credits_charged)],
        ["created", clockTime(task.created_ms / 1000)],
        ["ended", task.completed_ms ? clockTime(task.completed_ms / 1000) : ""],
        ["prompt", task.prompt],
      ]),
      resultLinks(task).length
        ? [h("h3", {}, task.replay ? "Results (as the recording gave them to the client)" : "Results"),
          h("ul", { class: "links", id: "task-results" }, resultLinks(task).map((url) => h("li", {}, h("a", { href: url, target: "_blank", rel: "noreferrer", class: "mono" }, url))))]
        : null,
      h("h3", {}, "Callback"),
      callbackPart(task, callbacks),
      h("h3", {}, `Requests naming this task (${journal.count}${journal.more ? "+" : ""})`),
      journal.requests.length
        ? h("table", { class: "rows small" }, h("tbody", {}, journal.requests.slice().reverse().map((r) =>
          h("tr", {}, h("td", { class: "num" }, `#${r.seq}`), h("td", { class: "mono" }, clockTime(r.at)),
            h("td", {}, `${r.method} ${r.kind}`), h("td", { class: "mono path" }, r.path), h("td", {}, codeBadge(r.code, r.status))))))
        : h("p", { class: "muted" }, "none"),
      h("p", {}, h("a", { href: `#requests/task_id=${encodeURIComponent(task.task_id)}` }, "Open them in Requests ›")),
      h("h3", {}, "Request body"),
      jsonView(task.request_body),
    ];
  }

  async function act(message, change) {
    try {
      await change();
      ctx.toast(message);
    } catch (error) {
      ctx.toast(error.message, "error");
    }
    ctx.refreshView();
  }

  function turn(step) {
    offset = Math.max(0, offset + step);
    ctx.refreshView();
  }

  return {
    name: "tasks",
    el,
    topics: ["tasks", "callbacks", "journal"],
    async refresh() {
      await list();
      await showDetail();
    },
    restart() {
      families = null; // another mock: its extensions may differ
      shownSign = "";
      pending = null;
    },
    route(param) {
      const wanted = param ? decodeURIComponent(param) : null;
      if (wanted === selected) return;
      selected = wanted;
      shownSign = "";
      pending = null;
      for (const tr of tbody.rows) markOpen(tr, tr.dataset.task === selected);
      if (!selected) clear(detail, h("p", { class: "muted" }, "Click a task to see its lifecycle and callbacks, and to steer it."));
      ctx.refreshView();
    },
  };
}

function isFinal(task) {
  return task.state === "success" || task.state === "fail";
}

// What became of the task's callback, from its last record (GET /_mock/tasks' `callback`):
// a callback is "sent" only once its receiver answered 2xx.
function callbackState(task) {
  const cb = task.callback;
  if (!task.callback_url) return h("span", { class: "muted" }, "–");
  if (!cb) return isFinal(task) ? h("span", { class: "muted", title: "no record: forgotten, or the task ended by a replay" }, "none recorded") : "owed";
  if (cb.reason === "pending") return h("span", { class: "badge wait" }, "in flight");
  if (cb.delivered) return h("span", { class: "badge good" }, `sent · HTTP ${cb.status}`);
  const said = cb.status !== null ? ` · HTTP ${cb.status}` : "";
  return h("span", { class: "badge bad", title: cb.reason || "" }, `not delivered${said}`);
}

function facts(entries) {
  return h("dl", { class: "facts" }, entries.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function outcomeText(outcome) {
  const extra = [outcome.code !== null ? `code ${outcome.code}` : "", outcome.msg ? `“${outcome.msg}”` : ""].filter(Boolean);
  return extra.length ? `${outcome.kind} (${extra.join(", ")})` : outcome.kind;
}

// A replayed task: its client's status queries were answered by a recording (har.py), not by
// the emulated twin the mock keeps under the same id; the page shows what the client saw.
function replayText(task) {
  const replay = task.replay;
  if (!replay) return "";
  const then = replay.then === "emulation"
    ? (replay.handed_over ? "then the emulation, which answers it now" : "then the emulation (the recording stops before the task's end)")
    : "its last answer repeating";
  return `answered from a loaded recording (HAR): ${replay.polls_answered} status ${replay.polls_answered === 1 ? "query" : "queries"} ` +
    `from its ${replay.recorded_answers} recorded ${replay.recorded_answers === 1 ? "answer" : "answers"}, ${then}`;
}

// the state its client was last told: a replayed task's twin waits (manual) while the
// recording tells the client it is generating
function shownState(task) {
  const replay = task.replay;
  if (!replay || replay.state === null || (replay.then === "emulation" && replay.handed_over)) return task.state;
  return replay.state;
}

function pollsOf(task) {
  if (!task.replay) return task.polls;
  return task.replay.polls_answered + (task.replay.handed_over ? task.polls : 0);
}

function resultLinks(task) {
  if (!task.replay || (task.replay.then === "emulation" && task.replay.handed_over)) return task.result_urls;
  return task.replay.result_urls;
}

function lifecycleText(task) {
  const life = task.lifecycle;
  if (life.mode === "manual") return "manual: it moves only when advanced or completed";
  if (life.mode === "immediate") return "immediate: final at its first poll";
  const parts = [];
  if (life.polls) parts.push(`after ${life.polls} polls (${task.polls} so far)`);
  if (life.seconds) parts.push(`after ${number(life.seconds)} s of mock time, polled or not`);
  return parts.join(" and ");
}

function stageOf(task) {
  return isFinal(task) ? 3 : STAGES.indexOf(task.state);
}

function progressBar(task) {
  const stage = stageOf(task);
  const polls = pollsOf(task);
  const bar = h("span", { class: "progress", title: `${task.state} · ${polls} polls`, dataset: { stage } });
  bar.append(h("span", { class: `fill ${task.state}`, dataset: { stage } })); // width: style.css
  return [bar, h("span", { class: "muted small" }, ` ${polls} polls`)];
}

function stepper(task) {
  const stage = stageOf(task);
  const steps = [...STAGES, isFinal(task) ? task.state : "success | fail"];
  return h("ol", { class: "stepper", "aria-label": "lifecycle" }, steps.map((name, index) =>
    h("li", { class: index < stage ? "done" : index === stage ? `now ${task.state}` : "", "aria-current": index === stage ? "step" : false }, name)));
}

function callbackPart(task, callbacks) {
  if (!task.callback_url) return h("p", { class: "muted" }, "No callBackUrl: nothing is owed.");
  const owed = h("p", {}, "to ", h("span", { class: "mono" }, task.callback_url),
    isFinal(task) ? "" : h("span", { class: "badge wait" }, "owed when the task ends"));
  if (!callbacks.length) return [owed, isFinal(task) ? h("p", { class: "muted" }, "none recorded") : null];
  return [owed, callbacks.map(callbackCard)];
}

export function callbackCard(record) {
  const verdict = record.delivered
    ? h("span", { class: "badge good" }, `delivered · HTTP ${record.status}`)
    : h("span", { class: record.reason === "pending" ? "badge wait" : "badge bad" }, record.reason === "pending" ? "in flight" : "not delivered");
  return h("div", { class: "card callback", dataset: { delivered: String(record.delivered) } },
    h("p", {}, verdict, " ", record.copy > 1 ? `copy ${record.copy} ` : "", record.tampered ? h("span", { class: "badge warn" }, `tampered: ${record.tampered}`) : "",
      h("span", { class: "muted" }, ` sent at ${clockTime(record.sent_at)}`)),
    record.reason && record.reason !== "pending" ? h("p", { class: "muted" }, record.reason) : null,
    h("details", {}, h("summary", {}, "payload and headers"), jsonView(record.payload), jsonView(record.headers)),
    record.answer !== null && record.answer !== undefined
      ? h("details", { open: true }, h("summary", {}, "the receiver's answer"), h("pre", { class: "json text" }, record.answer || "(empty)"))
      : null);
}
