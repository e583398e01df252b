// A tiny hyperscript: every page builds its DOM with `h()`, so text from the server is always set
// as text, never parsed as HTML.
import { icon } from "./components/icons.js";

/**
 * h("button", {class: "ec-btn", onclick: fn, dataset: {x: 1}}, "Save", icon("check"))
 * Attributes: `class`, `style` (string or object), `dataset`, `on<event>` handlers, boolean
 * attributes (true/false), everything else via setAttribute. Children: nodes, strings, numbers,
 * arrays; null/undefined/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" && "value" in el) el.value = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace every child of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A centred loading state. */
export function loadingState(text = "Loading…") {
  return h("div", { class: "ec-state", role: "status", "aria-live": "polite" }, h("div", { class: "ec-spinner" }), h("span", {}, text));
}

/** An empty state: an icon, a line, an optional hint or action. */
export function emptyState(title = "No data", hint = null, action = null) {
  return h("div", { class: "ec-state ec-state-empty" }, icon("empty"), h("strong", {}, title), hint && h("span", {}, hint), action);
}

/** An error state showing the server's message, with an optional retry. */
export function errorState(error, retry = null) {
  const message = (error && error.message) || String(error || "Something went wrong");
  return h("div", { class: "ec-state ec-state-error", role: "alert" },
    icon("alert"), h("strong", {}, "Could not load"), h("span", { class: "ec-error-message" }, message),
    retry && h("button", { class: "ec-btn", type: "button", onclick: retry }, icon("refresh"), "Try again"));
}

export { icon };
