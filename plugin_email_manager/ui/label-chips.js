// Labels as small coloured chips (the list's rows, the filter panel). The colour is the person's
// own definition of the label (mailLabels: name, color); a name without one (a manager
// reading another user's mail, or a label whose definition is gone) gets a colour of a small
// palette picked by the name's hash, so that one name always looks the same.
import { h } from "/static/js/dom.js";

const PALETTE = ["#1677ff", "#389e0d", "#d46b08", "#c41d7f", "#531dab", "#08979c", "#d4380d", "#1d39c4", "#7cb305", "#d48806"];
const CSS_COLOR = /^(#[0-9a-f]{3,8}|[a-z]{3,20}|(rgb|hsl)a?\([0-9.,%\s]+\))$/i;

/** A colour for `name` that depends on nothing but the name. */
export function fallbackColor(name) {
  let hash = 0;
  for (const ch of name) hash = (Math.imul(hash, 31) + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

/** `defs`: a Map name → colour (the person's definitions). */
export function labelColor(name, defs) {
  const own = defs?.get(name);
  return own && CSS_COLOR.test(own.trim()) ? own.trim() : fallbackColor(name);
}

/** One chip; `attrs` for a chip that is also a button (the filter panel). */
export function labelChip(name, defs, { tag = "span", attrs = {} } = {}) {
  const chip = h(tag, { class: "mail-label-chip", ...attrs }, h("span", { class: "mail-label-dot", "aria-hidden": "true" }),
    h("span", { class: "mail-label-name" }, name));
  chip.style.setProperty("--mail-label", labelColor(name, defs)); // CSSOM, allowed by the CSP
  return chip;
}

/** The chips of a message's labels, or null when it has none. */
export function labelChips(labels, defs) {
  const names = (Array.isArray(labels) ? labels : []).filter((x) => typeof x === "string" && x);
  if (!names.length) return null;
  return h("span", { class: "mail-label-chips", "aria-label": `Labels: ${names.join(", ")}` }, names.map((n) => labelChip(n, defs)));
}
