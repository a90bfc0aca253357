// Pretty JSON for request and answer bodies. KIE nests JSON inside strings (the market's
// `param`, whose `input` is encoded once more, and `resultJson`; Luma's `paramJson`): such a
// string is shown unfolded, marked as a JSON string, so its fields can be read.

import { h } from "./dom.js";

const INDENT = "  ";

function parsedString(text) {
  const trimmed = text.trim();
  if (!(trimmed.startsWith("{") || trimmed.startsWith("["))) return undefined;
  try {
    const value = JSON.parse(trimmed);
    return value !== null && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

function scalar(value) {
  if (value === null) return h("span", { class: "j-null" }, "null");
  if (typeof value === "string") return h("span", { class: "j-str" }, JSON.stringify(value));
  if (typeof value === "number") return h("span", { class: "j-num" }, String(value));
  return h("span", { class: "j-bool" }, String(value));
}

function write(out, value, depth) {
  if (typeof value === "string") {
    const inner = parsedString(value);
    if (inner === undefined) {
      out.push(scalar(value));
      return;
    }
    out.push(h("span", { class: "j-unfolded", title: "a JSON string, shown unfolded" }, "JSON string "));
    write(out, inner, depth);
    return;
  }
  if (value === null || typeof value !== "object") {
    out.push(scalar(value));
    return;
  }
  const list = Array.isArray(value);
  const entries = list ? value.map((item, i) => [i, item]) : Object.entries(value);
  const [open, close] = list ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    out.push(open + close);
    return;
  }
  out.push(open + "\n");
  entries.forEach(([name, item], index) => {
    out.push(INDENT.repeat(depth + 1));
    if (!list) out.push(h("span", { class: "j-key" }, JSON.stringify(name)), ": ");
    write(out, item, depth + 1);
    out.push(index < entries.length - 1 ? ",\n" : "\n");
  });
  out.push(INDENT.repeat(depth) + close);
}

export function jsonView(value) {
  const out = [];
  write(out, value, 0);
  return h("pre", { class: "json", tabindex: 0 }, out); // a scroller: reachable by keyboard in every browser
}

export function textView(text) {
  return h("pre", { class: "json text", tabindex: 0 }, text);
}
