// Live updates for every open tab, over one held connection.
//
// GET /_mock/changes?since=<token>&wait=25 answers as soon as the mock changes, with a token per
// topic. A long-poll holds an HTTP/1.1 connection, and a browser opens at most six to one host:
// with a long-poll in every tab, the seventh tab's clicks would queue behind them. So one tab —
// whichever holds the Web Lock — watches, and hands each answer to the other tabs of this mock
// on a BroadcastChannel. When it closes, the lock (and the watching) passes to another tab.

import { get } from "./api.js";

const WAIT_SECONDS = 25;
const GAP_MS = 150; // at most ~7 looks a second while a client hammers the mock
const RETRY_MS = [500, 1000, 2000, 5000];
const NAME = `kiekit-mock-inspector:${window.location.host}`;

const pause = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

// onView({token, topics}) for every answer (also the quiet ones after `wait`), onStatus(state)
// with "live", "follower" or "offline".
export function watch(onView, onStatus) {
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(NAME) : null;
  if (channel) {
    channel.onmessage = ({ data }) => {
      if (data.view) onView(data.view);
      if (data.status) onStatus(data.status === "live" ? "follower" : data.status);
    };
  }
  const tell = (message) => {
    if (message.view) onView(message.view);
    if (message.status) onStatus(message.status);
    if (channel) channel.postMessage(message);
  };

  async function lead() {
    let token = null;
    let failures = 0;
    for (;;) {
      const started = Date.now();
      try {
        const view = await get("/_mock/changes", { since: token, wait: token ? WAIT_SECONDS : 0 });
        token = view.token;
        failures = 0;
        tell({ view, status: "live" });
      } catch {
        tell({ status: "offline" });
        await pause(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
        failures += 1;
        continue;
      }
      // a hidden tab's timers are throttled to one a minute: only a visible leader pauses
      const spent = Date.now() - started;
      if (spent < GAP_MS && document.visibilityState === "visible") await pause(GAP_MS - spent);
    }
  }

  if (navigator.locks && channel) {
    onStatus("follower");
    navigator.locks.request(`${NAME}:watcher`, lead); // held until this tab closes
  } else {
    lead(); // no Web Locks (an old browser): every tab watches for itself
  }
}
