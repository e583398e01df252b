// The filter area on the left: search, folders with their unread counts, read state, flagged,
// attachments, a date range, the person's labels, the accounts with their status, and a link to the
// batches sent. A mail manager also gets "My mail / All mail" at the top. On a phone it is a drawer.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { FOLDERS } from "./format.js";
import { labelChip } from "./label-chips.js";

const STATUS_TEXT = { ready: "Up to date", syncing: "Syncing…", error: "Needs attention" };

/**
 * renderFilters(el, {filters, accounts, counts, onChange(patch, {push}), onAccounts(), manager, labels, labelDefs})
 * `counts` maps a folder type (and "all") to its unread count; drafts to its total. `manager`: the
 * person may read everyone's mail (users.mailManager); `labels`: their label definitions
 * [{name, color}], `labelDefs` the same as a Map name → colour.
 */
export function renderFilters(el, { filters: f, accounts, counts, onChange, onAccounts, manager = false, labels = [], labelDefs = null }) {
  const searchInput = h("input", {
    class: "ec-input mail-search-input", type: "search", name: "q", value: f.q, placeholder: "Search mail",
    "aria-label": "Search mail", autocomplete: "off", enterkeyhint: "search",
  });
  const search = h("form", {
    class: "mail-search", role: "search",
    onsubmit: (e) => { e.preventDefault(); onChange({ q: searchInput.value.trim(), page: 1 }, { push: true }); searchInput.blur(); },
  }, icon("search"), searchInput,
  f.q && h("button", {
    class: "mail-search-clear", type: "button", "aria-label": "Clear search",
    onclick: () => onChange({ q: "", page: 1 }, { push: true }),
  }, icon("x")));
  // a cleared search box (the browser's own ✕, or select-all + delete) shows everything again
  searchInput.addEventListener("search", () => { if (!searchInput.value && f.q) onChange({ q: "", page: 1 }, { push: true }); });

  const folder = (type, title, iconName) => {
    const n = counts?.[type] || 0;
    const current = f.folder === type;
    return h("button", {
      class: "mail-nav-item", type: "button", "aria-current": current ? "page" : null, "data-folder": type,
      onclick: () => onChange({ folder: type, page: 1 }, { push: true }),
    }, icon(iconName), h("span", { class: "mail-nav-title" }, title),
    n > 0 && h("span", { class: "mail-nav-count", "aria-label": type === "drafts" ? `${n} drafts` : `${n} unread` },
      n > 999 ? "999+" : String(n)));
  };

  const seg = (value, title) => h("button", {
    class: "mail-seg-item", type: "button", "aria-pressed": String(f.read === value),
    onclick: () => onChange({ read: value, page: 1 }),
  }, title);

  const toggle = (key, title, iconName) => h("label", { class: "mail-check" },
    h("input", { type: "checkbox", checked: f[key], onchange: (e) => onChange({ [key]: e.target.checked, page: 1 }) }),
    icon(iconName), h("span", {}, title));

  const dateInput = (key, label) => h("label", { class: "mail-date" }, h("span", {}, label),
    h("input", {
      class: "ec-input", type: "date", value: f[key], "aria-label": label === "From" ? "Date from" : "Date to",
      onchange: (e) => onChange({ [key]: e.target.value, page: 1 }),
    }));

  const accountItem = (a) => h("button", {
    class: "mail-nav-item mail-account-item", type: "button", "aria-current": f.account === a.id ? "page" : null,
    title: a.status === "error" && a.error ? `${a.email}: ${a.error}` : `${a.email}: ${STATUS_TEXT[a.status] || a.status}`,
    onclick: () => onChange({ account: f.account === a.id ? null : a.id, page: 1 }, { push: true }),
  }, h("span", { class: `mail-status-dot mail-status-${a.status}`, "aria-label": STATUS_TEXT[a.status] || a.status }),
  h("span", { class: "mail-nav-title" }, a.displayName || a.email));

  const scopeItem = (value, title) => h("button", {
    class: "mail-seg-item", type: "button", "aria-pressed": String(f.scope === value),
    onclick: () => onChange({ scope: value, page: 1 }, { push: true }),
  }, title);

  const labelNames = [...new Set(labels.map((l) => l.name).filter(Boolean))].sort((a, b) => a.localeCompare(b));
  if (f.label && !labelNames.includes(f.label)) labelNames.unshift(f.label); // a label of someone else's mail, or one gone
  const labelItem = (name) => labelChip(name, labelDefs, {
    tag: "button",
    attrs: { type: "button", "aria-pressed": String(f.label === name), title: f.label === name ? "Show every label" : `Only “${name}”`,
      onclick: () => onChange({ label: f.label === name ? "" : name, page: 1 }, { push: true }) },
  });

  // the panel is drawn again whenever counts, labels or accounts change: a search being typed keeps
  // its words, focus and caret across that, or the person's typing would vanish mid-word
  const typing = el.querySelector(".mail-search-input");
  const keep = typing && typing === document.activeElement
    ? { value: typing.value, start: typing.selectionStart, end: typing.selectionEnd } : null;
  el.replaceChildren(...[
    manager && h("div", { class: "mail-scope" },
      h("div", { class: "mail-seg", role: "group", "aria-label": "Whose mail" }, scopeItem("mine", "My mail"), scopeItem("all", "All mail"))),
    search,
    h("nav", { class: "mail-side-section mail-folders", "aria-label": "Folders" },
      FOLDERS.map((x) => folder(x.type, x.title, x.icon)),
      folder("all", "All mail", "mails")),
    h("section", { class: "mail-side-section", "aria-label": "Show" },
      h("h3", { class: "mail-side-title" }, "Show"),
      h("div", { class: "mail-seg", role: "group", "aria-label": "Read state" },
        seg("all", "All"), seg("unread", "Unread"), seg("read", "Read")),
      toggle("flagged", "Flagged", "star"),
      toggle("todo", "To-do", "check"),
      toggle("attachments", "Has attachments", "paperclip")),
    h("section", { class: "mail-side-section", "aria-label": "Labels" },
      h("h3", { class: "mail-side-title" }, "Labels",
        f.label && h("button", { class: "mail-link-btn", type: "button", onclick: () => onChange({ label: "", page: 1 }, { push: true }) },
          "Clear")),
      labelNames.length
        ? h("div", { class: "mail-labels-filter" }, labelNames.map(labelItem))
        : h("p", { class: "mail-side-empty" }, "No labels yet.")),
    h("section", { class: "mail-side-section", "aria-label": "Date" },
      h("h3", { class: "mail-side-title" }, "Date",
        (f.since || f.until) && h("button", {
          class: "mail-link-btn", type: "button", onclick: () => onChange({ since: "", until: "", page: 1 }),
        }, "Clear")),
      h("div", { class: "mail-dates" }, dateInput("since", "From"), dateInput("until", "To"))),
    h("section", { class: "mail-side-section", "aria-label": "Accounts" },
      h("h3", { class: "mail-side-title" }, "Accounts",
        h("button", { class: "mail-link-btn", type: "button", onclick: onAccounts }, "Manage")),
      accounts.length > 1 && h("button", {
        class: "mail-nav-item", type: "button", "aria-current": f.account ? null : "page",
        onclick: () => onChange({ account: null, page: 1 }, { push: true }),
      }, icon("mails"), h("span", { class: "mail-nav-title" }, "All accounts")),
      accounts.map(accountItem),
      !accounts.length && h("button", { class: "mail-link-btn", type: "button", onclick: onAccounts }, "Link an account")),
    h("nav", { class: "mail-side-section", "aria-label": "More" },
      // the shell follows the link without a reload
      h("a", { class: "mail-nav-item mail-side-link", href: "/admin/mail/batches" }, icon("send"), h("span", { class: "mail-nav-title" }, "Batches"))),
  ].filter(Boolean));
  if (keep) {
    searchInput.value = keep.value;
    searchInput.focus({ preventScroll: true });
    searchInput.setSelectionRange(keep.start, keep.end);
  }
}
