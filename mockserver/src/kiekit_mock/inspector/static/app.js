// The inspector page: tabs over the mock's state, the mock clock, reset, and live updates.
// The view on screen re-reads when a topic it shows has changed (GET /_mock/changes, live.js);
// a view reads afresh whenever it is shown. When another mock answers (a restart on the same
// port: the changes' `instance` is new), every view starts afresh: nothing of the old mock's
// stays on screen beside the new one's.

import { get, post, put } from "./api.js";
import { accountsView } from "./accounts.js";
import { callbacksView } from "./callbacks.js";
import { clockDate, clockTime, focusPlace, number, restoreFocus } from "./dom.js";
import { readNumber } from "./forms.js";
import { watch } from "./live.js";
import { requestsView } from "./requests.js";
import { rulesView } from "./rules.js";
import { tasksView } from "./tasks.js";

const $ = (selector) => document.querySelector(selector);

let toastTimer = 0;
function toast(message, kind = "ok") {
  const box = $("#toast");
  if (!box.dataset.wired) { // a click puts it away
    box.dataset.wired = "true";
    box.addEventListener("click", () => { box.hidden = true; });
    box.title = "click to dismiss";
  }
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => { box.hidden = true; }, kind === "error" ? 10000 : 5000);
}

// Status news for screen readers, in one polite live region: said once when it changes (a
// long-poll's every answer repeats "live"), never a stream.
let announced = "";
function announce(message) {
  if (message === announced) return;
  announced = message;
  $("#announce").textContent = message;
}

// --- views and the hash route (#tasks/<id>, #requests/task_id=…) ---

const views = new Map();
let current = null;

const ctx = {
  toast,
  announce,
  go: (route) => { window.location.hash = route; },
  refreshView: () => { if (current) schedule(current); },
};

function schedule(view, options = {}) {
  // one read at a time per view; changes that arrive meanwhile make one more read after it
  if (view.running) {
    view.again = true;
    return;
  }
  view.running = true;
  // a view's own updates must not drop the keyboard focus to <body>: back to the same
  // control, or to the view's list when that control is gone
  const place = focusPlace(view.el);
  view.refresh(options)
    .then(() => restoreFocus(view.el, place, () => view.el.querySelector(".table-wrap, h2")))
    .catch((error) => toast(`Could not read the mock: ${error.message}`, "error"))
    .finally(() => {
      view.running = false;
      if (view.again) {
        view.again = false;
        schedule(view);
      }
    });
}

function route() {
  const [name, ...rest] = window.location.hash.replace(/^#/, "").split("/");
  const view = views.get(name) || views.get("requests");
  const param = rest.length ? rest.join("/") : undefined;
  if (view !== current) {
    if (current) current.el.hidden = true;
    current = view;
    view.el.hidden = false;
    for (const tab of document.querySelectorAll("nav.tabs a")) {
      tab.setAttribute("aria-current", tab.dataset.view === view.name ? "page" : "false");
    }
    if (view.route) view.route(param);
    schedule(view);
  } else if (view.route) {
    view.route(param);
  }
}

// --- the mock clock: read on a change, shown moving at its scale in between ---

const clock = { now: null, scale: 1, read: 0 };

async function readClock() {
  showClock(await get("/_mock/clock"));
}

function showClock(answer) {
  Object.assign(clock, { now: answer.now, scale: answer.scale, read: performance.now() });
  const shown = $("#clock");
  shown.dataset.now = String(answer.now);
  shown.title = clockDate(answer.now);
  $("#clock-scale").textContent = answer.scale === 1 ? "" : `×${number(answer.scale)}`;
  const speed = $("#clock-speed");
  if (document.activeElement !== speed) speed.value = String(answer.scale); // not while typed in
  tick();
}

function tick() {
  if (clock.now === null) return;
  const now = clock.now + ((performance.now() - clock.read) / 1000) * clock.scale;
  $("#clock").textContent = clockTime(now).slice(0, 8);
}

// --- live: which topics moved since this tab last looked ---

const seen = {};
let instance = null; // the mock's instance (changes.py): a new one is a restarted mock

function onView(view) {
  if (view.instance !== instance) {
    if (instance !== null) {
      for (const each of views.values()) if (each.restart) each.restart();
      toast("The mock restarted: the page shows the new one's state.");
    }
    instance = view.instance;
  }
  const changed = Object.keys(view.topics).filter((topic) => seen[topic] !== view.topics[topic]);
  Object.assign(seen, view.topics);
  const quiet = changed.length === 0; // a long-poll that ran out: look again all the same
  if (quiet || changed.includes("clock")) readClock().catch(() => {});
  // only the view on screen reads; another reads when it is shown (route)
  if (current && (quiet || current.topics.some((topic) => changed.includes(topic)))) {
    schedule(current, { quiet });
  }
}

function onStatus(state) {
  const live = $("#live");
  if (live.dataset.state !== state) {
    if (state === "offline") announce("The mock is unreachable.");
    else if (live.dataset.state === "offline") announce("The mock answers again.");
  }
  live.dataset.state = state;
  live.textContent = { live: "live", follower: "live", offline: "mock unreachable" }[state] || state;
  live.title = state === "follower" ? "live, through another open tab of this mock" : "connection to the mock";
}

// --- header actions ---

function wireHeader() {
  $("#clock-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("#clock-seconds").value.trim();
    const seconds = readNumber(text); // the API judges the rest, as the speed form's
    try {
      showClock(await post("/_mock/clock/advance", { seconds }));
      toast(`Mock clock advanced by ${text} s`);
    } catch (error) {
      toast(error.message, "error");
    }
  });
  $("#speed-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("#clock-speed").value.trim();
    const scale = readNumber(text); // the API judges the rest
    try {
      showClock(await put("/_mock/clock", { scale }));
      toast(`Mock clock runs at ×${text}`);
    } catch (error) {
      toast(error.message, "error");
    }
  });
  $("#reset").addEventListener("click", async () => {
    if (!window.confirm("Reset the mock? Tasks, added rules and faults, account changes, callback records and the journal are forgotten.")) return;
    try {
      await post("/_mock/reset");
      toast("Mock reset");
    } catch (error) {
      toast(error.message, "error");
    }
    ctx.refreshView();
  });
}

async function start() {
  const main = $("#views");
  for (const make of [requestsView, tasksView, callbacksView, rulesView, accountsView]) {
    const view = make(ctx);
    view.el.hidden = true;
    views.set(view.name, view);
    main.append(view.el);
  }
  wireHeader();
  try {
    const first = await get("/_mock/changes");
    Object.assign(seen, first.topics);
    instance = first.instance;
    await readClock();
  } catch {
    onStatus("offline");
  }
  window.setInterval(tick, 250);
  window.addEventListener("hashchange", route);
  route();
  watch(onView, onStatus);
  document.body.dataset.ready = "true";
}

start();
