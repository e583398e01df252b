// The email center's view state, mirrored in the URL so that Back, reload and shared links land
// on the same view: /admin/mail?folder=sent&read=unread&q=lunch&page=2, and
// /admin/mail/thread/<threadId> for an open conversation (the list's query kept). A manager's
// "All mail" switch is `scope=all` (every user's mail, read-only); a label filter `label=Work`.
// A conversation opened from elsewhere in the admin (a record's Emails tab) carries
// `from=<that page's path>`, where the reader's Back returns (safeFrom: this site's /admin/ only).

export const BASE = "/admin/mail";
const PAGE_SIZES = [10, 20, 50, 100];

export function defaults() {
  return { folder: "inbox", account: null, read: "all", flagged: false, todo: false, attachments: false, since: "", until: "",
    q: "", label: "", scope: "mine", page: 1, pageSize: 20 };
}

/** The view named by a location: {view: "list"|"thread", threadId, filters}. */
export function fromLocation(loc = location) {
  const p = new URLSearchParams(loc.search);
  const f = defaults();
  const folder = p.get("folder");
  if (folder) f.folder = folder;
  const account = Number(p.get("account"));
  if (Number.isInteger(account) && account > 0) f.account = account;
  if (["unread", "read"].includes(p.get("read"))) f.read = p.get("read");
  f.flagged = p.get("flagged") === "1";
  f.todo = p.get("todo") === "1";
  f.attachments = p.get("attachments") === "1";
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (day.test(p.get("since") || "")) f.since = p.get("since");
  if (day.test(p.get("until") || "")) f.until = p.get("until");
  f.q = (p.get("q") || "").slice(0, 200);
  f.label = (p.get("label") || "").slice(0, 200);
  if (p.get("scope") === "all") f.scope = "all";
  const page = Number(p.get("page"));
  if (Number.isInteger(page) && page > 1) f.page = page;
  const size = Number(p.get("size"));
  if (PAGE_SIZES.includes(size)) f.pageSize = size;
  const m = loc.pathname.match(/\/thread\/(\d+)\/?$/);
  return { view: m ? "thread" : "list", threadId: m ? Number(m[1]) : null, filters: f, from: m ? safeFrom(p.get("from")) : null };
}

/** `value` as a path of this site's admin ("/admin/…", its query kept), else null: `from` is in
 * the URL, anyone's to write, and Back must never lead off the site ("//evil.example",
 * "https://…", "/\\evil.example", "javascript:…") nor outside the admin. */
export function safeFrom(value, origin = location.origin) {
  if (typeof value !== "string" || !value.startsWith("/") || value.length > 2000) return null;
  let url;
  try { url = new URL(value, origin); } catch { return null; }
  if (url.origin !== origin || !(url.pathname === "/admin" || url.pathname.startsWith("/admin/"))) return null;
  return url.pathname + url.search + url.hash;
}

// A link with `from` being followed: the reader tags its new history entry (`backTo`), so that
// Back steps back to that page (no extra entry in the history) instead of opening it anew.
let opening = null;
/** A link to a conversation with `from` is being followed (a plain click on that page). */
export function openingFrom(from) { opening = from; }
/** Whether the conversation opening now was opened by a click on `from` (asked once). */
export function openedFromHere(from) {
  const was = from !== null && opening === from;
  opening = null;
  return was;
}

/** The query string of `filters` (only what differs from the defaults). */
export function toQuery(f) {
  const d = defaults();
  const p = new URLSearchParams();
  if (f.folder !== d.folder) p.set("folder", f.folder);
  if (f.account) p.set("account", String(f.account));
  if (f.read !== "all") p.set("read", f.read);
  if (f.flagged) p.set("flagged", "1");
  if (f.todo) p.set("todo", "1");
  if (f.attachments) p.set("attachments", "1");
  if (f.since) p.set("since", f.since);
  if (f.until) p.set("until", f.until);
  if (f.q) p.set("q", f.q);
  if (f.label) p.set("label", f.label);
  if (f.scope === "all") p.set("scope", "all");
  if (f.page > 1) p.set("page", String(f.page));
  if (f.pageSize !== d.pageSize) p.set("size", String(f.pageSize));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export function listPath(f) { return BASE + toQuery(f); }
/** An open conversation's path; `from`, the page to go back to, for one opened from outside. */
export function threadPath(threadId, f, { from = null } = {}) {
  const q = toQuery(f);
  if (!from) return `${BASE}/thread/${threadId}${q}`;
  return `${BASE}/thread/${threadId}${q ? `${q}&` : "?"}${new URLSearchParams({ from })}`;
}

/** The NocoBase filter JSON of the list's filters (PROTOCOL.md: filter operators). */
export function buildFilter(f, { folder = f.folder } = {}) {
  const out = {};
  if (folder && folder !== "all") out.type = folder;
  if (f.account) out.accountId = f.account;
  if (f.read === "unread") out.read = false;
  if (f.read === "read") out.read = true;
  if (f.flagged) out.flagged = true;
  if (f.todo) out.todo = true;
  if (f.attachments) out.hasAttachments = true;
  if (f.label) out.labels = { $includes: [f.label] }; // JSON containment: the exact name
  if (f.since || f.until) out.date = { $dateBetween: [f.since || "1970-01-01", f.until || "2999-12-31"] };
  return out;
}

/** Whether any filter beyond the folder and account narrows the list (the empty state says so). */
export function isNarrowed(f) {
  return f.read !== "all" || f.flagged || f.todo || f.attachments || !!f.since || !!f.until || !!f.q || !!f.label;
}
