// An address field of the compose dialog: typed addresses become chips (on Enter, comma,
// semicolon, Tab or leaving the field; a pasted list too); an invalid one shows red and blocks
// sending; Backspace in the empty input takes the last chip back for editing.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { addressText, parseAddress } from "./format.js";

/** Split a typed or pasted list on commas and semicolons outside quotes and angle brackets. */
export function splitAddresses(text) {
  const out = [];
  let cur = "";
  let quoted = false;
  let angle = false;
  for (const c of String(text)) {
    if (c === '"') quoted = !quoted;
    else if (c === "<") angle = true;
    else if (c === ">") angle = false;
    if ((c === "," || c === ";" || c === "\n") && !quoted && !angle) { if (cur.trim()) out.push(cur.trim()); cur = ""; } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/**
 * addressField({label, values}) → {el, input, list(), invalid(), markInvalid(address), focus(), commit()}
 * `values` are {name, address} objects or strings. list() answers the chips as strings to send.
 */
export function addressField({ label, values = [], onChange = () => {} }) {
  const chips = []; // {raw, parsed}
  const id = `mail-addr-${label.toLowerCase()}-${Math.random().toString(36).slice(2, 7)}`;
  const input = h("input", {
    class: "mail-chips-input", id, type: "text", autocomplete: "off", spellcheck: "false",
    "aria-label": label, inputmode: "email",
  });
  const box = h("div", { class: "mail-chips", onclick: (e) => { if (e.target === box) input.focus(); } });

  const paint = () => {
    box.replaceChildren(...chips.map((c, i) => {
      const valid = !!c.parsed && !c.rejected;
      return h("span", {
        class: `mail-chip${valid ? "" : " is-invalid"}`, title: valid ? addressText(c.parsed) : `Not a valid address: ${c.raw}`,
        "aria-invalid": valid ? null : "true", "data-address": c.parsed?.address || c.raw,
        ondblclick: () => { chips.splice(i, 1); input.value = c.raw; paint(); input.focus(); },
      }, valid && !c.parsed.name ? c.parsed.address : valid ? c.parsed.name : c.raw,
      h("button", {
        class: "mail-chip-x", type: "button", "aria-label": `Remove ${c.parsed?.address || c.raw}`,
        onclick: (e) => { e.stopPropagation(); chips.splice(i, 1); paint(); onChange(); input.focus(); },
      }, icon("x")));
    }), input);
  };

  const add = (raw) => {
    for (const part of splitAddresses(raw)) {
      const parsed = parseAddress(part);
      if (parsed && chips.some((c) => c.parsed?.address.toLowerCase() === parsed.address.toLowerCase())) continue;
      chips.push({ raw: part, parsed });
    }
  };
  const commit = () => {
    if (!input.value.trim()) return;
    add(input.value);
    input.value = "";
    paint();
    onChange();
  };

  input.addEventListener("keydown", (e) => {
    if (["Enter", ",", ";"].includes(e.key) || (e.key === "Tab" && input.value.trim())) {
      if (!input.value.trim()) return;
      e.preventDefault();
      commit();
      input.focus();
    } else if (e.key === "Backspace" && !input.value && chips.length) {
      e.preventDefault();
      input.value = chips.pop().raw;
      paint();
      input.focus();
    }
  });
  input.addEventListener("paste", (e) => {
    const text = e.clipboardData?.getData("text") || "";
    if (splitAddresses(text).length > 1) { e.preventDefault(); add(input.value + text); input.value = ""; paint(); onChange(); input.focus(); }
  });
  input.addEventListener("blur", commit);
  input.addEventListener("input", () => onChange());

  for (const v of values) add(typeof v === "string" ? v : addressText(v));
  paint();

  const el = h("div", { class: "mail-field mail-field-addresses" }, h("label", { class: "mail-field-label", for: id }, label), box);
  return {
    el, input,
    list: () => { commit(); return chips.filter((c) => c.parsed && !c.rejected).map((c) => addressText(c.parsed)); },
    invalid: () => { commit(); return chips.filter((c) => !c.parsed || c.rejected).map((c) => c.raw); },
    count: () => chips.length + (input.value.trim() ? 1 : 0),
    /** The server refused this address (INVALID_ADDRESS): show its chip red. */
    markInvalid: (address) => {
      const c = chips.find((x) => (x.parsed?.address || x.raw).toLowerCase() === String(address).toLowerCase());
      if (c) { c.rejected = true; paint(); return true; }
      return false;
    },
    focus: () => input.focus(),
    commit,
  };
}
