// The email center (/admin/mail): filters on the left, the conversation list or the reader on the
// right, and the compose and account dialogs. The shell mounts it (see host/static/js/shell.js);
// moving between /admin/mail and /admin/mail/thread/<id> calls `update`, not a new mount.
// A mail manager (users.mailManager) may switch to All mail (`scope=all` in the URL): every read
// of messages then carries scope "all", and `readOnly` is true, which hides every control that
// writes (the list, the reader, the keyboard, and actions.js refuses them too).
import { errorState, h, loadingState } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { mailApi } from "./mail-api.js";
import { buildFilter, defaults, fromLocation, listPath, openingFrom, threadPath } from "./state.js";
import { renderFilters } from "./filters.js";
import { ListView } from "./list.js";
import { ReaderView } from "./reader.js";
import { openAccounts } from "./accounts.js";
import { keyboard } from "./keyboard.js";
import { actions } from "./actions.js";

const CSS = new URL("./mail.css", import.meta.url).href;
const COUNTED = ["inbox", "archive", "junk", "drafts"];
// the reads that take scope "all" (PROTOCOL "Mail in the platform"); writes never do
const WIDENED = new Set(["mailMessages:list", "mailMessages:get", "mailMessages:listThreads", "mailMessages:getThread",
  "mailMessages:listForRecord"]);

export function loadCss() {
  if (document.querySelector(`link[href="${CSS}"]`)) return Promise.resolve();
  const link = h("link", { rel: "stylesheet", href: CSS });
  const done = new Promise((resolve) => { link.onload = resolve; link.onerror = resolve; });
  document.head.append(link);
  return done;
}

class MailApp {
  constructor(el, shell) {
    this.el = el;
    this.shell = shell;
    this.signal = shell.signal;
    // every read of messages in All mail asks for everyone's: the list, counts, the reader
    this.api = mailApi({ ...shell.api, get: (action, params, opts) =>
      shell.api.get(action, this.readOnly && WIDENED.has(action) ? { ...params, scope: "all" } : params, opts) });
    this.buildFilter = buildFilter;
    this.manager = false;
    this.readOnly = false;
    this.labels = []; // the person's label definitions [{name, color}]
    this.labelDefs = new Map();
    this.accounts = [];
    this.counts = {};
    this.maxMiB = null;
    Object.assign(this, fromLocation());
    this.side = h("aside", {
      class: "mail-side", "aria-label": "Mail filters",
      onkeydown: (e) => { if (e.key === "Escape" && this.el.classList.contains("is-drawer-open")) { e.stopPropagation(); this.closeDrawer(); } },
    });
    this.main = h("div", { class: "mail-main" });
    this.list = new ListView(this);
    this.reader = new ReaderView(this);
    this.listKey = null;
    el.classList.add("mail-page");
    el.replaceChildren(h("div", { class: "mail-layout" }, this.side, this.main),
      h("div", { class: "mail-scrim", onclick: () => this.closeDrawer() }));
  }

  async start() {
    this.main.replaceChildren(h("div", { class: "ec-card" }, loadingState("Loading your mail…")));
    try {
      [this.accounts, this.manager] = await Promise.all([this.api.accounts({ signal: this.signal }), this.isManager()]);
    } catch (err) {
      if (err.name === "AbortError") return;
      this.main.replaceChildren(h("div", { class: "ec-card" }, errorState(err, () => this.start())));
      return;
    }
    this.route();
    this.loadCounts();
    this.loadLabels();
    this.watchAccounts();
    this.stopKeys = keyboard(this);
    // the count the page opened with: the shell calls listeners on changes only, so the first
    // change (new mail from IDLE, read state changed elsewhere) must refresh, not set a baseline
    const mailCount = (badges) => (badges || []).find((b) => b.name === "mail")?.count;
    let last = mailCount(this.shell.badges);
    this.stopBadges = this.shell.onBadges((badges) => {
      const count = mailCount(badges);
      if (count === undefined || count === last) return;
      last = count;
      this.readStateChanged();
    });
  }

  destroy() {
    this.stopKeys?.();
    this.stopBadges?.();
    clearTimeout(this.accountTimer);
    clearTimeout(this.quietTimer);
    this.reader.destroy();
  }

  update(shell) {
    this.shell = shell;
    this.signal = shell.signal;
    this.route();
  }

  // ------------------------------------------------------------------ views

  route() {
    const wasReading = this.view === "thread";
    const counted = this.filters && `${this.filters.scope} ${this.filters.account}`;
    Object.assign(this, fromLocation());
    if (wasReading && this.view === "list") this.loadLabels(); // the reader may have made new ones
    if (!this.manager) this.filters.scope = "mine"; // anyone else's ?scope=all shows their own mail
    this.readOnly = this.filters.scope === "all";
    if (counted && counted !== `${this.filters.scope} ${this.filters.account}`) this.loadCounts(); // whose counts changed
    this.el.classList.toggle("is-readonly", this.readOnly);
    this.closeDrawer();
    const onboarding = !this.accounts.length && !this.readOnly; // a manager reads All mail without a mailbox
    this.el.classList.toggle("is-onboarding", onboarding);
    if (onboarding) { this.onboarding(); return; }
    this.renderSide();
    const key = JSON.stringify(this.filters);
    const sameList = key === this.listKey && this.list.state === "ready";
    if (key !== this.listKey || this.list.state !== "ready") { this.listKey = key; this.list.load({ quiet: sameList }); }
    if (this.view === "thread") {
      this.shell.setTitle("Conversation · Email");
      this.main.replaceChildren(this.reader.el);
      if (this.reader.threadId !== this.threadId || !this.reader.messages.length) this.reader.load(this.threadId);
      window.scrollTo(0, 0);
    } else {
      this.shell.setTitle("Email");
      this.reader.destroy();
      this.reader.threadId = null;
      this.main.replaceChildren(this.list.el);
      if (sameList) { this.list.render(); this.list.load({ quiet: true }); }
    }
  }

  onboarding() {
    this.side.replaceChildren();
    this.main.replaceChildren(h("div", { class: "ec-card mail-welcome" },
      h("div", { class: "mail-welcome-icon" }, icon("mail")),
      h("h1", {}, "Welcome to your email center"),
      h("p", { class: "ec-muted" }, "Link a mailbox to read, search and send its mail here: Google, Microsoft or any IMAP/SMTP server."),
      h("button", { class: "ec-btn ec-btn-primary ec-btn-lg", type: "button", onclick: () => this.openAccounts({ start: "choose" }) },
        icon("plus"), "Link account"),
      this.manager && h("p", {}, h("button", { class: "mail-link-btn", type: "button",
        onclick: () => this.setFilters({ scope: "all", page: 1 }, { push: true }) }, "Read everyone’s mail (All mail)"))));
  }

  renderSide() {
    renderFilters(this.side, {
      filters: this.filters, accounts: this.accounts, counts: this.counts,
      manager: this.manager, labels: this.labels, labelDefs: this.labelDefs,
      onChange: (patch, opts) => this.setFilters(patch, opts), onAccounts: () => this.openAccounts(),
    });
  }

  openDrawer() {
    this.el.classList.add("is-drawer-open");
    this.side.tabIndex = -1; // focus the panel, not its search box: no keyboard popping up on a phone
    this.side.focus({ preventScroll: true });
  }

  closeDrawer() { this.el.classList.remove("is-drawer-open"); }

  focusSearch() {
    if (this.view === "thread") this.backToList();
    if (matchMedia("(max-width: 768px)").matches) this.openDrawer();
    const input = this.side.querySelector(".mail-search-input");
    input?.focus();
    input?.select();
  }

  // ------------------------------------------------------------------ navigation

  setFilters(patch, { push = false } = {}) {
    const next = { ...this.filters, ...patch };
    this.shell.navigate(listPath(next), { replace: !push });
  }

  clearFilters() {
    const d = defaults();
    this.setFilters({ read: d.read, flagged: false, todo: false, attachments: false, since: "", until: "", q: "", label: "", page: 1 },
      { push: true });
  }

  openThread(threadId) {
    this.cameFromList = true;
    this.shell.navigate(threadPath(threadId, this.filters));
  }

  backToList() {
    if (this.cameFromList && history.length > 1) { this.cameFromList = false; history.back(); return; }
    this.shell.navigate(listPath(this.filters));
  }

  /** The next (1) or previous (-1) conversation of the list, from the reader. */
  step(delta) {
    const rows = this.list.rows;
    const i = rows.findIndex((r) => r.threadId === this.threadId);
    const next = rows[i + delta];
    if (i < 0 || !next) return;
    // Opened from a record's Emails tab, the next conversation keeps `from`, so that Back still
    // returns to that tab; the replaced history entry loses its state, so its `backTo` tag (Back
    // as a step back in history) is asked for again.
    if (this.from && history.state?.backTo === this.from) openingFrom(this.from);
    this.shell.navigate(threadPath(next.threadId, this.filters, { from: this.from }), { replace: true });
  }

  ownAddresses() {
    if (this.readOnly) return new Set(); // in All mail, "me" would name the wrong person
    return new Set(this.accounts.flatMap((a) => [a.email, a.username]).filter(Boolean).map((s) => s.toLowerCase()));
  }

  // ------------------------------------------------------------------ data

  /** Whether the person may read everyone's mail (users.mailManager; false when unsure). */
  async isManager() {
    try {
      const res = await this.shell.api.get("users:get", { filterByTk: this.shell.user.id, fields: ["mailManager"] }, { signal: this.signal });
      return res.data?.mailManager === true;
    } catch (err) {
      if (err.name === "AbortError") throw err;
      return false;
    }
  }

  /** The person's label definitions: the filter panel lists them, the list's chips take their colours. */
  async loadLabels() {
    try {
      const res = await this.shell.api.get("mailLabels:list", { paginate: false, sort: "name" }, { signal: this.signal });
      this.labels = (res.data || []).filter((l) => l && typeof l.name === "string");
    } catch { return; } // no labels: the list shows its chips in their fallback colours
    this.labelDefs = new Map(this.labels.map((l) => [l.name, l.color]));
    if (this.accounts.length || this.readOnly) this.renderSide();
    if (this.view === "list" && this.list.state === "ready") this.list.render();
  }

  async loadCounts() {
    const account = this.filters.account ? { accountId: this.filters.account } : {};
    const results = await Promise.allSettled(COUNTED.map((type) =>
      this.api.count({ type, ...(type === "drafts" ? {} : { read: false }), ...account }, { signal: this.signal })));
    COUNTED.forEach((type, i) => { if (results[i].status === "fulfilled") this.counts[type] = results[i].value; });
    if (this.accounts.length) this.renderSide();
    if (this.view === "list" && this.list.state === "ready") {
      const head = this.list.el.querySelector(".mail-list-head");
      head?.replaceWith(this.list.heading());
    }
  }

  /** Something changed read state or brought mail: refresh the list and counts, once. */
  readStateChanged() {
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => {
      if (this.list.state === "ready") this.list.load({ quiet: true });
      this.loadCounts();
    }, 250);
  }

  /** A message went out (or a draft was saved): the list, the counts, and the open conversation. */
  afterSend() {
    this.readStateChanged();
    if (this.view === "thread" && this.reader.threadId) this.reader.load(this.reader.threadId, { quiet: true });
  }

  accountsChanged(accounts) {
    const had = this.accounts.length;
    const state = (list) => JSON.stringify(list.map((a) => [a.id, a.status, a.progress?.fetched, a.parsePending, a.lastSyncAt,
      a.syncProgress?.listed]));
    const moved = state(accounts) !== state(this.accounts);
    this.accounts = accounts;
    if (this.view === "list") this.list.paintProgress();
    if (this.filters.account && !accounts.some((a) => a.id === this.filters.account)) {
      this.setFilters({ account: null, page: 1 });
      return;
    }
    if (!had !== !accounts.length && !this.readOnly) { this.listKey = null; this.route(); } else if (accounts.length || this.readOnly) this.renderSide();
    if (moved && had && accounts.length) this.readStateChanged(); // a sync ran: its mail is listable
    this.watchAccounts();
  }

  async reloadAll() {
    try { this.accountsChanged(await this.api.accounts()); } catch { /* the list shows its own error */ }
    if (this.accounts.length && this.list.state !== "loading") this.list.load({ quiet: this.list.state === "ready" });
    this.loadCounts();
  }

  /** While an account syncs, follow it: the status dots, the progress bar of a first sync, and the
   * mail as it arrives; no polling once every account is idle. */
  watchAccounts() {
    clearTimeout(this.accountTimer);
    if (!this.accounts.some((a) => a.status === "syncing" || a.parsePending || a.syncProgress)) return;
    this.accountTimer = setTimeout(async () => {
      if (this.signal.aborted) return;
      try {
        this.accountsChanged(await this.api.accounts({ signal: this.signal }));
      } catch { this.watchAccounts(); }
    }, 2000);
  }

  async refresh() {
    const targets = this.filters.account ? this.accounts.filter((a) => a.id === this.filters.account) : this.accounts;
    this.list.setRefreshing(true);
    try {
      const results = await Promise.allSettled(targets.map((a) => this.api.sync(a.id)));
      const failed = results.map((r, i) => [r, targets[i]]).filter(([r]) => r.status === "rejected");
      for (const [r, a] of failed) this.shell.toast(`${a.email}: ${r.reason.message}`, { type: "error" });
      try { this.accountsChanged(await this.api.accounts()); } catch { /* shown by the list */ }
      await this.list.load({ quiet: true });
      this.loadCounts();
    } finally {
      this.list.setRefreshing(false);
    }
  }

  // ------------------------------------------------------------------ actions

  openAccounts(opts) { openAccounts(this, opts); }
}

Object.assign(MailApp.prototype, actions);

export default async function mount(element, shell) {
  await loadCss();
  const app = new MailApp(element, shell);
  await app.start();
  return { unmount: () => app.destroy(), update: (next) => app.update(next) };
}
