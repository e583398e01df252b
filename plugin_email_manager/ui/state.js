// The email center's view state, mirrored in the URL so that Back, reload and shared links land
// on the same view: /admin/mail?folder=sent&read=unread&q=lunch&page=2, and
// /admin/mail/thread/<threadId> for an open conversation (the list's query kept). A manager's
// "All mail" switch is `scope=all` (every user's mail, read-only); a label filter `label=Work`.

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
  return { view: m ? "thread" : "list", threadId: m ? Number(m[1]) : null, filters: f };
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
export function threadPath(threadId, f) { return `${BASE}/thread/${threadId}${toQuery(f)}`; }

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
