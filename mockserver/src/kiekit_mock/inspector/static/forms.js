// Forms that send what was typed to the control API and show its answer. The page checks
// nothing itself: a number field sends a number when the text is one and the text otherwise,
// so the control API's own validation (HTTP 400 naming the field) is what the user reads.

import { ApiError } from "./api.js";
import { h } from "./dom.js";

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

// a JSON number when the text spells one (1e3, -5, .5 too), else the text as typed: the
// control API takes any JSON number and names the field when it refuses one
export function readNumber(text) {
  return NUMBER.test(text) ? Number(text) : text;
}

function read(input, kind) {
  if (kind === "check") return input.checked || undefined;
  const text = input.value.trim();
  if (text === "") return undefined;
  if (kind === "number") return readNumber(text);
  return text;
}

// fields: [{name, label, kind: "text"|"number"|"secret"|"select"|"check", options, hint,
//           field (the API's name for it, for marking), shown(values) -> bool}]
// build(values) -> the body; send(body) -> Promise of the answer; done(answer) after success.
export function apiForm({ id, title, fields, submit, build, send, done, reset = true }) {
  const inputs = new Map();
  const boxes = new Map();
  const alert = h("p", { class: "form-error", id: `${id}-error`, role: "alert", hidden: true });
  const grid = h("div", { class: "fields" });
  for (const spec of fields) {
    let input;
    if (spec.kind === "select") {
      input = h("select", { name: spec.name }, spec.options.map((o) => {
        const [value, label] = Array.isArray(o) ? o : [o, o];
        return h("option", { value }, label);
      }));
    } else if (spec.kind === "check") {
      input = h("input", { type: "checkbox", name: spec.name });
    } else {
      input = h("input", {
        name: spec.name,
        type: spec.kind === "secret" ? "password" : "text",
        inputmode: spec.kind === "number" ? "decimal" : undefined,
        placeholder: spec.placeholder || "",
        autocomplete: "off",
      });
    }
    input.dataset.field = spec.field || spec.name;
    input.addEventListener("change", () => refreshShown());
    inputs.set(spec.name, input);
    const box = h("label", { class: `field ${spec.kind === "check" ? "check" : ""}` },
      h("span", { class: "label" }, spec.label), input,
      spec.hint ? h("span", { class: "hint" }, spec.hint) : null);
    boxes.set(spec.name, box);
    grid.append(box);
  }
  const button = h("button", { type: "submit", class: "primary" }, submit);
  const form = h("form", { class: "api-form", id, autocomplete: "off", novalidate: true },
    title ? h("h3", {}, title) : null, grid, h("div", { class: "actions" }, button), alert);

  function values() {
    const found = {};
    for (const spec of fields) {
      const value = read(inputs.get(spec.name), spec.kind);
      if (value !== undefined) found[spec.name] = value;
    }
    return found;
  }

  function refreshShown() {
    const now = values();
    for (const spec of fields) {
      if (spec.shown) boxes.get(spec.name).hidden = !spec.shown(now);
    }
  }

  // the field the API named: marked for the eye and for assistive tech (aria-invalid, and
  // the message as its description); returns it
  function mark(field) {
    let bad = null;
    for (const input of inputs.values()) {
      const invalid = field !== null && input.dataset.field === field;
      input.classList.toggle("invalid", invalid);
      if (invalid) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", alert.id);
        bad = bad || input;
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    }
    return bad;
  }

  // busy, not disabled: a focused button that is disabled drops the focus to <body>
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const visible = Object.fromEntries(Object.entries(values()).filter(([name]) => !boxes.get(name).hidden));
    busy = true;
    button.setAttribute("aria-disabled", "true");
    try {
      const answer = await send(build(visible));
      alert.hidden = true;
      mark(null);
      if (reset) {
        // every field back to its default, selects too: a choice left standing (an outcome
        // "fail") would go into the next add with whatever else is typed, or nothing
        for (const spec of fields) {
          const input = inputs.get(spec.name);
          if (spec.kind === "check") input.checked = false;
          else if (spec.kind === "select") input.selectedIndex = 0;
          else input.value = "";
        }
        refreshShown();
      } else {
        for (const spec of fields) if (spec.kind === "secret") inputs.get(spec.name).value = "";
      }
      if (done) done(answer);
    } catch (error) {
      alert.textContent = error instanceof ApiError ? `${error.message}` : `The mock did not answer: ${error.message}`;
      alert.hidden = false;
      const bad = mark(error instanceof ApiError ? error.field : null);
      if (bad && !boxes.get(bad.name).hidden) bad.focus(); // to fix it; its description says why
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
    }
  });
  refreshShown();
  return { form, inputs, set(name, value) { inputs.get(name).value = value ?? ""; } };
}

// keep only the given names that have values: {a: 1, b: undefined} -> {a: 1}
export function pick(values, names) {
  const found = {};
  for (const name of names) if (values[name] !== undefined) found[name] = values[name];
  return found;
}
