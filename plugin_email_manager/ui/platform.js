// Mail in the platform: what the email plugin adds to the host's generic collection pages
// (host.api.UIExtension; the registry is documented in /static/js/extensions.js).
//
// - an email field's value (interface "email") is a link that opens the compose dialog addressed
//   to it; a domain field's value (interface "domain") links to its record's Emails tab;
// - a record of a collection with an email or domain field has an "Emails" tab: its conversations
//   (mailMessages:listForRecord) as the email center lists them, each opening in the email
//   center's reader (from where one replies), paged, and "Write email" to the record's addresses;
//   a mail manager (users.mailManager) also gets "My mail / All mail" there (`scope=all` in the
//   record page's URL): every user's conversations with the record, each saying whose it is, and
//   opening read-only in the email center's All mail. A conversation's link carries `from`, this
//   tab's URL, so the reader's Back returns here;
// - "Send email" over the selected rows of a collection with an email field opens the batch send
//   dialog (batch-send.js).
//
// Compose is the email center's own dialog (compose.js); `composer()` builds the little of the
// email center's `app` it reads, from any page of the shell.
import { emptyState, errorState, h } from "/static/js/dom.js";
import "/static/js/components/pagination.js";
import { icon } from "./icons.js";
import { mailApi } from "./mail-api.js";
import { TYPE_TITLES, listDate, participantsText } from "./format.js";
import { defaults, openingFrom, threadPath } from "./state.js";

const PAGE_SIZES = [10, 20, 50, 100]; // as <ec-pagination> offers

// The email center's modules load when first needed, not with every collection page.
/** The email center's stylesheet (mail.js owns it): compose, the rows and batch send need it. */
const loadCss = () => import("./mail.js").then((m) => m.loadCss());

const fieldsOf = (collection, iface) => (collection.fields || []).filter((f) => f.interface === iface);
const hasMailFields = (collection) => fieldsOf(collection, "email").length > 0 || fieldsOf(collection, "domain").length > 0;
const primaryKey = (collection) => (collection.fields || []).find((f) => f.primaryKey)?.name || "id";
/** A field's value as a list of non-empty strings (an email field may hold one or a list). */
const valuesOf = (value) => (Array.isArray(value) ? value : [value]).filter((v) => typeof v === "string" && v.trim()).map((v) => v.trim());
const recordPath = (collection, record, query = "") => `/admin/collections/${encodeURIComponent(collection.name)}/${encodeURIComponent(record[primaryKey(collection)])}${query}`;

/** What compose.js reads of the email center's `app`, for a page that is not the email center. */
async function composer(shell, { afterSend = () => {} } = {}) {
  await loadCss();
  const api = mailApi(shell.api);
  return {
    shell, api, accounts: await api.accounts(), filters: { account: null }, maxMiB: null, afterSend,
    openAccounts: () => shell.navigate("/admin/mail"),
  };
}

/** The compose dialog addressed to `addresses`. */
export async function composeTo(shell, addresses, opts = {}) {
  try {
    const [app, { openCompose }] = await Promise.all([composer(shell, opts), import("./compose.js")]);
    return openCompose(app, { prepare: async () => ({ to: addresses }) });
  } catch (err) {
    shell.toast(err.message || "Could not open the message.", { type: "error" });
    return null;
  }
}

// ---------------------------------------------------------------- cells

function emailCell(value, { shell }) {
  const addresses = valuesOf(value);
  if (!addresses.length) return null;
  return h("span", { class: "mail-field-links" }, addresses.map((address, i) => [i ? ", " : "", h("a", {
    class: "mail-address-link", href: `mailto:${address}`, title: `Write to ${address}`,
    onclick: (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return; // the system's mail app
      e.preventDefault();
      composeTo(shell, [address]);
    },
  }, address)]));
}

function domainCell(value, { row, collection }) {
  const domains = valuesOf(value);
  if (!domains.length) return null;
  const href = row && row[primaryKey(collection)] != null ? recordPath(collection, row, "?tab=emails") : null;
  return h("span", { class: "mail-field-links" }, domains.map((domain, i) => [i ? ", " : "",
    href ? h("a", { class: "mail-domain-link", href, title: `Conversations with ${domain}` }, domain) : domain]));
}

// ---------------------------------------------------------------- the Emails tab

/** Whether the person may read everyone's mail (users.mailManager, as the email center asks; false
 * when unsure). */
async function isManager(shell, signal) {
  try {
    const res = await shell.api.get("users:get", { filterByTk: shell.user.id, fields: ["mailManager"] }, { signal });
    return res.data?.mailManager === true;
  } catch (err) {
    if (err.name === "AbortError") throw err;
    return false;
  }
}

/** One conversation; in All mail (`scope` "all") whose it is, and it opens read-only. */
function row(r, own, scope) {
  const m = r.main || {};
  const unread = (r.unreadCount || 0) > 0;
  const subject = m.subject || r.subject || "(no subject)";
  const from = location.pathname + location.search; // this tab as it is now: the reader's Back
  return h("li", { class: `mail-row${unread ? " is-unread" : ""}`, "data-thread-id": r.threadId },
    h("a", { class: "mail-row-link", href: threadPath(r.threadId, { ...defaults(), scope }, { from }), "data-testid": "record-thread",
      onclick: (e) => { if (e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey) openingFrom(from); } },
      h("span", { class: "mail-row-from" }, participantsText(r.participants, own)),
      h("span", { class: "mail-row-main" },
        scope === "all" && m.accountEmail && h("span", { class: "mail-row-owner", title: `The mail of ${m.accountEmail}` }, m.accountEmail),
        h("span", { class: "mail-row-subject" }, subject),
        r.count > 1 && h("span", { class: "mail-row-count", title: `${r.count} messages in this conversation` }, `(${r.count})`),
        m.type && m.type !== "inbox" && h("span", { class: `mail-type-tag mail-type-${m.type}` }, TYPE_TITLES[m.type] || m.type),
        m.snippet && h("span", { class: "mail-row-snippet" }, m.snippet)),
      h("span", { class: "mail-row-meta" },
        (r.hasAttachments || m.hasAttachments) && h("span", { class: "mail-row-clip", title: "Has attachments", "aria-label": "Has attachments" }, icon("paperclip")),
        h("time", { class: "mail-row-date", datetime: m.date || r.latestDate || "", title: m.date || "" }, listDate(m.date || r.latestDate)))));
}

async function emailsTab(panel, { collection, record, shell, signal, params, setParams }) {
  await loadCss();
  const api = mailApi(shell.api);
  const addresses = fieldsOf(collection, "email").flatMap((f) => valuesOf(record[f.name]));
  const domains = fieldsOf(collection, "domain").flatMap((f) => valuesOf(record[f.name]));
  const who = [...addresses, ...domains].join(", ");
  let page = Math.max(1, Number(params.get("page")) || 1);
  let pageSize = PAGE_SIZES.includes(Number(params.get("size"))) ? Number(params.get("size")) : 20;
  let accounts = [];
  // All mail only once the person is known to be a manager (anyone else's scope=all: their own)
  const manager = isManager(shell, signal);
  let scope = params.get("scope") === "all" ? "all" : "mine";

  const count = h("span", { class: "ec-muted mail-record-count", role: "status" });
  const write = addresses.length > 0 && h("button", { class: "ec-btn ec-btn-primary mail-record-write", type: "button",
    onclick: () => composeTo(shell, addresses, { afterSend: () => load({ quiet: true }) }) },
  icon("pencil"), h("span", {}, "Write email"));
  const whose = h("div", { class: "mail-seg mail-record-scope", role: "group", "aria-label": "Whose mail", hidden: true },
    ["mine", "all"].map((value) => h("button", {
      class: "mail-seg-item", type: "button", "data-scope": value, "aria-pressed": String(scope === value),
      onclick: () => {
        if (scope === value) return;
        scope = value;
        page = 1;
        setParams({ scope: scope === "all" ? "all" : null, page: null });
        load();
      },
    }, value === "all" ? "All mail" : "My mail")));
  const list = h("div", { class: "mail-record-list" });
  const pager = document.createElement("ec-pagination");
  pager.hidden = true;
  pager.addEventListener("page-change", (e) => {
    ({ page, pageSize } = e.detail);
    setParams({ page: page > 1 ? page : null, size: pageSize !== 20 ? pageSize : null });
    load();
  });
  panel.replaceChildren(h("div", { class: "mail-record-emails" },
    h("div", { class: "mail-record-head" },
      h("div", { class: "mail-record-title" }, h("h2", {}, "Conversations"), who && h("span", { class: "ec-muted" }, `with ${who}`)),
      count, h("span", { class: "mail-toolbar-spacer" }), whose, write),
    list, pager));

  let seq = 0;
  async function load({ quiet = false } = {}) {
    const mine = ++seq;
    if (!quiet) {
      list.replaceChildren(h("ul", { class: "mail-rows", "aria-busy": "true", "aria-label": "Loading conversations" },
        Array.from({ length: 3 }, () => h("li", { class: "mail-row mail-row-skeleton" }, h("span", { class: "ec-skeleton mail-record-skeleton" })))));
    }
    try {
      if (scope === "all" && !(await manager)) scope = "mine";
      const asked = scope;
      const [res, mineAccounts] = await Promise.all([
        shell.api.get("mailMessages:listForRecord", {
          collection: collection.name, filterByTk: record[primaryKey(collection)], page, pageSize,
          ...(asked === "all" ? { scope: "all" } : {}),
        }, { signal }),
        accounts.length ? accounts : api.accounts({ signal }),
      ]);
      if (mine !== seq) return;
      accounts = mineAccounts;
      whose.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.scope === asked)));
      // Write email goes from the person's own account, in All mail too: none, nothing to write from
      if (write) write.hidden = asked === "all" && !accounts.length;
      const rows = res.data || [];
      const total = res.meta?.count ?? rows.length;
      if (!rows.length && page > 1 && total > 0) { page = Math.ceil(total / pageSize); setParams({ page }); load(); return; }
      count.textContent = `${total} conversation${total === 1 ? "" : "s"}`;
      // in All mail, "me" would name the wrong person
      const own = new Set(asked === "all" ? [] : accounts.flatMap((a) => [a.email, a.username]).filter(Boolean).map((s) => s.toLowerCase()));
      if (!rows.length && asked === "all") {
        list.replaceChildren(emptyState(who ? `No conversations with ${who} in anyone’s mail` : "No email address or domain on this record"));
      } else if (!rows.length) {
        list.replaceChildren(emptyState(who ? `No conversations with ${who} yet` : "No email address or domain on this record",
          !accounts.length ? "Link a mailbox in the email center: its mail with this record shows here."
            : who ? "Mail from, to or copied to them shows here once it arrives." : null,
          !accounts.length ? h("a", { class: "ec-btn", href: "/admin/mail" }, "Open the email center") : null));
      } else {
        list.replaceChildren(h("ul", { class: "mail-rows mail-record-rows", "aria-label": "Conversations" }, rows.map((r) => row(r, own, asked))));
      }
      pager.state = { page, pageSize, count: total, disabled: false };
      pager.hidden = total <= PAGE_SIZES[0];
    } catch (err) {
      if (err.name === "AbortError" || mine !== seq) return;
      list.replaceChildren(errorState(err, () => load()));
    }
  }
  // the unread count moves when mail arrives or is read (here, in the reader, elsewhere): follow it
  const unreadOf = (badges) => badges.find((b) => b.name === "mail")?.count;
  let unread = unreadOf(shell.badges || []);
  const stop = shell.onBadges((badges) => {
    const now = unreadOf(badges);
    if (now === undefined || now === unread) return;
    const first = unread === undefined;
    unread = now;
    if (!first) load({ quiet: true });
  });
  signal.addEventListener("abort", stop, { once: true });
  manager.then((yes) => { whose.hidden = !yes; }, () => {});
  await load();
}

// ---------------------------------------------------------------- the extension

async function sendEmail({ collection, fields, selection, shell }) {
  try {
    await loadCss();
    const { openBatchSend } = await import("./batch-send.js");
    openBatchSend(shell, { collection: collection.name, fields, selection });
  } catch (err) {
    shell.toast(err.message || "Could not open batch send.", { type: "error" });
  }
}

export function extendCollectionPage(registry) {
  registry.cell("email", emailCell);
  registry.cell("domain", domainCell);
  registry.tab({ id: "emails", title: "Emails", when: hasMailFields, render: emailsTab });
  registry.rowAction({ id: "send-email", title: "Send email", icon: "mail", when: (c) => fieldsOf(c, "email").length > 0, run: sendEmail });
}
