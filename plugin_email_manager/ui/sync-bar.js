// The first sync's progress (mailAccounts.syncProgress, PROTOCOL "Mail collections"): a bar and
// "12,400 of 48,000 listed · 3,100 being indexed", above the list (every account's first sync
// summed) and in the account's row of Account settings. The bar has two layers: listed (light)
// and searchable (solid: listed less what still waits for its text or its indexing).
import { h } from "/static/js/dom.js";

const number = new Intl.NumberFormat("en-US");

/** The summed progress of the accounts whose first sync runs, or null when none does. */
export function progressOf(accounts) {
  const running = accounts.map((a) => a.syncProgress).filter(Boolean);
  if (!running.length) return null;
  const sum = (key) => running.reduce((n, p) => n + (Number(p[key]) || 0), 0);
  return { listed: sum("listed"), total: sum("total"), pending: sum("bodiesPending") + sum("indexPending"), accounts: running.length };
}

export function progressText(p) {
  const listed = `${number.format(p.listed)} of ${number.format(Math.max(p.total, p.listed))} listed`;
  return p.pending > 0 ? `${listed} · ${number.format(p.pending)} being indexed` : listed;
}

/** The bar for `p` (from progressOf, or one account's syncProgress through progressOf([a])). */
export function syncBar(p, { label = "Sync progress", title = null } = {}) {
  const total = Math.max(p.total, p.listed, 1);
  const text = progressText(p);
  const listed = h("span", { class: "mail-sync-listed" });
  const indexed = h("span", { class: "mail-sync-indexed" });
  listed.style.width = `${(100 * p.listed) / total}%`;
  indexed.style.width = `${(100 * Math.max(0, p.listed - p.pending)) / total}%`;
  return h("div", { class: "mail-sync-progress", role: "status", "aria-label": label },
    h("div", { class: "mail-sync-line" },
      title && h("strong", { class: "mail-sync-title" }, title),
      h("span", { class: "mail-sync-text" }, text)),
    h("div", {
      class: "mail-sync-track", role: "progressbar", "aria-label": label, "aria-valuemin": "0",
      "aria-valuemax": String(total), "aria-valuenow": String(p.listed), "aria-valuetext": text,
    }, listed, indexed));
}
