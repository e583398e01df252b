// The conversation list: a heading, the toolbar (select all, read state, move, delete, Refresh), one row
// per conversation, and pagination. Rows are links (open in a new tab works); the checkbox and
// the keyboard cursor live beside them. In a manager's All mail (app.readOnly) every row says whose
// mail it is and nothing that writes is offered; while a first sync runs, its progress bar shows.
import { emptyState, errorState, h } from "/static/js/dom.js";
import "/static/js/components/pagination.js";
import { icon } from "./icons.js";
import { FOLDERS, TYPE_TITLES, listDate, participantsText } from "./format.js";
import { isNarrowed, threadPath } from "./state.js";
import { scheduledBits } from "./later.js";
import { labelChips } from "./label-chips.js";
import { progressOf, syncBar } from "./sync-bar.js";

const FOLDER_TITLES = Object.fromEntries(FOLDERS.map((x) => [x.type, x.title]));

export class ListView {
  /** @param {object} app  the page (filters, api, actions; see mail.js) */
  constructor(app) {
    this.app = app;
    this.rows = [];
    this.meta = { count: 0, page: 1, pageSize: 20 };
    this.selected = new Set();
    this.cursor = -1;
    this.state = "loading"; // loading | ready | error
    this.error = null;
    this.refreshing = false;
    this.el = h("section", { class: "mail-list ec-card", "aria-label": "Conversations" });
    this.seq = 0;
  }

  // ------------------------------------------------------------------ data

  async load({ quiet = false } = {}) {
    const { filters: f, api, buildFilter } = this.app;
    const seq = ++this.seq;
    if (!quiet) { this.state = "loading"; this.render(); }
    try {
      const res = await api.threads({ filter: buildFilter(f), search: f.q, page: f.page, pageSize: f.pageSize },
        { signal: this.app.signal });
      if (seq !== this.seq) return;
      this.rows = res.data || [];
      this.meta = res.meta || { count: this.rows.length, page: f.page, pageSize: f.pageSize };
      // a page past the end (mail deleted meanwhile): go to the last page that exists
      if (!this.rows.length && f.page > 1 && this.meta.count > 0) {
        this.app.setFilters({ page: Math.max(1, Math.ceil(this.meta.count / f.pageSize)) });
        return;
      }
      const ids = new Set(this.rows.map((r) => r.threadId));
      this.selected = new Set([...this.selected].filter((id) => ids.has(id)));
      this.cursor = Math.min(Math.max(this.cursor, this.rows.length ? 0 : -1), this.rows.length - 1);
      this.state = "ready";
      this.error = null;
    } catch (err) {
      if (err.name === "AbortError" || seq !== this.seq) return;
      this.state = "error";
      this.error = err;
    }
    this.render();
  }

  selectedRows() { return this.rows.filter((r) => this.selected.has(r.threadId)); }

  /** The rows an action applies to: the selection, else the row under the keyboard cursor. */
  targetRows() {
    const sel = this.selectedRows();
    if (sel.length) return sel;
    return this.rows[this.cursor] ? [this.rows[this.cursor]] : [];
  }

  setRefreshing(on) {
    this.refreshing = on;
    const btn = this.el.querySelector(".mail-refresh");
    if (btn) this.paintRefresh(btn);
  }

  // ------------------------------------------------------------------ keyboard

  move(delta) {
    if (!this.rows.length) return;
    this.cursor = Math.min(this.rows.length - 1, Math.max(0, this.cursor + delta));
    this.paintCursor(true);
  }

  toggleCursorSelection() {
    const row = this.rows[this.cursor];
    if (!row) return;
    if (this.selected.has(row.threadId)) this.selected.delete(row.threadId);
    else this.selected.add(row.threadId);
    this.render();
  }

  paintCursor(scroll = false) {
    this.el.querySelectorAll(".mail-row").forEach((li, i) => {
      li.classList.toggle("is-cursor", i === this.cursor);
      if (i === this.cursor && scroll) li.scrollIntoView({ block: "nearest" });
    });
  }

  // ------------------------------------------------------------------ rendering

  paintRefresh(btn) {
    btn.disabled = this.refreshing;
    btn.setAttribute("aria-busy", String(this.refreshing));
    btn.replaceChildren(this.refreshing ? h("span", { class: "ec-spinner mail-spinner-inline" }) : icon("refresh"),
      h("span", { class: "mail-btn-label" }, this.refreshing ? "Refreshing…" : "Refresh"));
  }

  heading() {
    const f = this.app.filters;
    const title = f.folder === "all" ? "All mail" : FOLDER_TITLES[f.folder] || f.folder;
    const n = this.meta.count;
    const bits = [];
    // a search of a common word answers the planner's estimate of its count (meta.countIsEstimate)
    const about = this.meta.countIsEstimate ? "about " : "";
    if (this.state === "ready") bits.push(`${about}${n} conversation${n === 1 ? "" : "s"}`);
    const unread = this.app.counts?.[f.folder];
    if (unread && f.folder !== "drafts") bits.push(`${unread} unread`);
    return h("div", { class: "mail-list-head" },
      h("div", { class: "mail-list-title" },
        h("h1", {}, f.q ? `Results for “${f.q}”` : title),
        h("span", { class: "ec-muted mail-list-sub" }, f.q ? `in ${title}` : "", f.q && bits.length ? " · " : "", bits.join(" · "))),
      h("span", { class: "ec-page-head-spacer" }),
      h("button", {
        class: "ec-btn ec-btn-icon mail-only-phone mail-filters-btn", type: "button", "aria-label": "Filters",
        onclick: () => this.app.openDrawer(),
      }, icon("sliders"), isNarrowed(f) && h("span", { class: "mail-dot-badge", "aria-hidden": "true" })),
      h("button", { class: "ec-btn mail-settings-btn", type: "button", "aria-label": "Account settings", title: "Account settings",
        onclick: () => this.app.openAccounts() }, icon("settings"), h("span", { class: "mail-btn-label" }, "Account settings")),
      !this.app.readOnly && h("button", { class: "ec-btn ec-btn-primary mail-compose-btn", type: "button", "aria-label": "Write email",
        onclick: () => this.app.compose() },
        icon("pencil"), h("span", {}, "Write email")));
  }

  /** Every account's first sync, summed, while one runs; else null. */
  syncProgress() {
    const p = progressOf(this.app.accounts || []);
    return p && syncBar(p, { title: p.accounts > 1 ? `Syncing ${p.accounts} accounts` : "Syncing your mail" });
  }

  /** The progress bar follows the accounts (mail.js polls them) without redrawing the rows. */
  paintProgress() {
    const old = this.el.querySelector(":scope > .mail-sync-progress");
    const bar = this.syncProgress();
    if (old && bar) old.replaceWith(bar);
    else if (old) old.remove();
    else if (bar) this.el.querySelector(":scope > .mail-list-head")?.after(bar);
  }

  toolbar() {
    if (this.app.readOnly) return this.readOnlyBar();
    const n = this.selected.size;
    const all = this.rows.length > 0 && n === this.rows.length;
    const box = h("input", {
      type: "checkbox", class: "mail-checkbox", "aria-label": "Select all", checked: all, disabled: !this.rows.length,
      onchange: (e) => {
        this.selected = e.target.checked ? new Set(this.rows.map((r) => r.threadId)) : new Set();
        this.render();
      },
    });
    box.indeterminate = n > 0 && !all;
    const refresh = h("button", { class: "ec-btn mail-refresh", type: "button", onclick: () => this.app.refresh() });
    this.paintRefresh(refresh);
    const act = (label, iconName, fn, extra = {}) => h("button", {
      class: "ec-btn mail-tool", type: "button", disabled: !n, onclick: fn, title: label, "aria-label": label, ...extra,
    }, icon(iconName), h("span", { class: "mail-btn-label" }, label));
    return h("div", { class: "mail-toolbar", role: "toolbar", "aria-label": "Conversation actions" },
      h("label", { class: "mail-select-all" }, box),
      act("Mark as read", "mail-open", () => this.app.markRows(this.selectedRows(), true)),
      act("Mark as unread", "mail", () => this.app.markRows(this.selectedRows(), false)),
      act("Move to…", "folder", () => this.app.moveRows(this.selectedRows())),
      act("Delete", "trash", () => this.app.deleteRows(this.selectedRows())),
      refresh,
      h("span", { class: "mail-toolbar-spacer" }),
      n > 0 && h("span", { class: "ec-muted mail-selected-count", role: "status" }, `${n} selected`));
  }

  /** All mail: a note instead of the actions, and a Refresh that only reads the list again. */
  readOnlyBar() {
    const refresh = h("button", { class: "ec-btn mail-refresh", type: "button", onclick: () => this.load({ quiet: true }) },
      icon("refresh"), h("span", { class: "mail-btn-label" }, "Refresh"));
    return h("div", { class: "mail-toolbar", role: "toolbar", "aria-label": "Conversation actions" },
      h("span", { class: "mail-readonly-text" }, icon("eye"), " Everyone’s mail, read-only"),
      h("span", { class: "mail-toolbar-spacer" }), refresh);
  }

  row(r, index) {
    const f = this.app.filters;
    const m = r.main || {};
    const unread = (r.unreadCount || 0) > 0;
    const selected = this.selected.has(r.threadId);
    const partial = r.matched !== undefined ? r.matched < r.count : r.count > 1;
    const showType = m.type && (f.folder === "all" || !!f.q || m.type !== f.folder || partial);
    const subject = m.subject || r.subject || "(no subject)";
    return h("li", {
      class: `mail-row${unread ? " is-unread" : ""}${selected ? " is-selected" : ""}${index === this.cursor ? " is-cursor" : ""}`,
      "data-thread-id": r.threadId,
    },
    !this.app.readOnly && h("label", { class: "mail-row-check" }, h("input", {
      type: "checkbox", class: "mail-checkbox", checked: selected, "aria-label": `Select “${subject}”`,
      onchange: (e) => {
        if (e.target.checked) this.selected.add(r.threadId); else this.selected.delete(r.threadId);
        this.cursor = index;
        this.render();
      },
    })),
    h("span", { class: `mail-row-flag${m.flagged ? " is-on" : ""}`, title: m.flagged ? "Flagged" : null,
      "aria-label": m.flagged ? "Flagged" : null }, m.flagged ? icon("star") : null),
    h("a", {
      class: "mail-row-link", href: threadPath(r.threadId, f), "data-testid": "thread-row",
      onclick: () => { this.cursor = index; this.app.cameFromList = true; },
    },
    h("span", { class: "mail-row-from" }, participantsText(r.participants, this.app.ownAddresses())),
    h("span", { class: "mail-row-main" },
      this.app.readOnly && m.accountEmail && h("span", { class: "mail-row-owner", title: `The mail of ${m.accountEmail}` }, m.accountEmail),
      h("span", { class: "mail-row-subject" }, subject),
      r.count > 1 && h("span", { class: "mail-row-count", title: `${r.count} messages in this conversation` }, `(${r.count})`),
      showType && h("span", { class: `mail-type-tag mail-type-${m.type}` }, TYPE_TITLES[m.type] || m.type),
      labelChips(m.labels, this.app.labelDefs),
      m.snippet && h("span", { class: "mail-row-snippet" }, m.snippet)),
    h("span", { class: "mail-row-meta" },
      (r.hasAttachments || m.hasAttachments) && h("span", { class: "mail-row-clip", title: "Has attachments", "aria-label": "Has attachments" }, icon("paperclip")),
      h("time", { class: "mail-row-date", datetime: m.date || r.latestDate || "", title: m.date || "" },
        listDate(m.date || r.latestDate)))),
    m.type === "scheduled" && !this.app.readOnly && scheduledBits(this.app, m));
  }

  empty() {
    const f = this.app.filters;
    if (isNarrowed(f)) {
      return emptyState(f.q ? `No conversations match “${f.q}”` : "No conversations match these filters",
        "Try other words, another folder, or fewer filters.",
        h("button", { class: "ec-btn", type: "button", onclick: () => this.app.clearFilters() }, "Clear filters"));
    }
    if (this.app.accounts.some((a) => a.status === "syncing")) {
      return h("div", { class: "ec-state" }, h("div", { class: "ec-spinner" }), h("strong", {}, "Your mail is on its way"),
        h("span", {}, "The first sync is running; conversations appear here as they arrive."));
    }
    const title = f.folder === "all" ? "No mail yet" : `${FOLDER_TITLES[f.folder] || "This folder"} is empty`;
    return emptyState(title, f.folder === "inbox" ? "New mail shows up here within seconds." : null);
  }

  skeleton() {
    return h("ul", { class: "mail-rows", "aria-busy": "true", "aria-label": "Loading conversations" },
      Array.from({ length: 8 }, (_, i) => h("li", { class: "mail-row mail-row-skeleton" },
        h("span", { class: "ec-skeleton", style: { width: "16px" } }),
        h("span", { class: "ec-skeleton", style: { width: `${90 + (i * 37) % 60}px` } }),
        h("span", { class: "ec-skeleton", style: { flex: "1" } }),
        h("span", { class: "ec-skeleton", style: { width: "48px" } }))));
  }

  render() {
    const f = this.app.filters;
    let body;
    if (this.state === "loading") body = this.skeleton();
    else if (this.state === "error") body = errorState(this.error, () => this.load());
    else if (!this.rows.length) body = this.empty();
    else body = h("ul", { class: "mail-rows", "aria-label": "Conversations" }, this.rows.map((r, i) => this.row(r, i)));
    const pager = document.createElement("ec-pagination");
    pager.state = {
      page: f.page, pageSize: f.pageSize, count: this.meta.count || 0, estimate: !!this.meta.countIsEstimate, disabled: this.state !== "ready",
    };
    pager.addEventListener("page-change", (e) => this.app.setFilters({ page: e.detail.page, pageSize: e.detail.pageSize },
      { push: true }));
    this.el.replaceChildren(...[this.heading(), this.syncProgress(), this.toolbar(), body,
      this.state === "ready" && this.meta.count > 0 && pager].filter(Boolean));
  }
}
