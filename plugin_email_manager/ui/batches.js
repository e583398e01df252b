// The Batches view (/admin/mail/batches, /admin/mail/batches/<id>): each batch send
// (mailBatches) with its progress, and one batch's recipients (mailBatchRecipients) with their
// status and error, and "Retry failed" (mailBatches:retry). While a batch shown is running the
// page asks again every POLL_MS; it stops when the person leaves the page.
import { h, loadingState } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { fullDate } from "./format.js";
import { BATCHES_PATH, batchPath, loadMailCss } from "./batch-send.js";

const POLL_MS = 2000;
const PAGE_SIZE = 100;
const STATUSES = [["", "All"], ["failed", "Failed"], ["sent", "Sent"], ["pending", "Pending"]];

/** A progress bar of a batch: sent (green) and failed (red) out of total. */
function progress(b) {
  const total = Math.max(b.total || 0, 0);
  const pct = (n) => `${total ? (100 * n) / total : 0}%`;
  const sent = h("div", { class: "mail-progress-sent" });
  const failed = h("div", { class: "mail-progress-failed" });
  sent.style.width = pct(b.sent || 0);
  failed.style.width = pct(b.failed || 0);
  const done = (b.sent || 0) + (b.failed || 0);
  return h("div", { class: "mail-batch-progress" },
    h("div", {
      class: "mail-progress", role: "progressbar", "aria-label": "Progress",
      "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": done,
      "aria-valuetext": `${b.sent} of ${total} sent, ${b.failed} failed`,
    }, sent, failed),
    h("span", { class: "mail-batch-counts ec-num" },
      `${b.sent} / ${total} sent`, b.failed ? h("span", { class: "mail-batch-failed" }, ` · ${b.failed} failed`) : null));
}

function statusTag(status, failed = 0) {
  const text = status === "running" ? "Sending" : status === "done" ? (failed ? "Done with errors" : "Done")
    : status === "sent" ? "Sent" : status === "failed" ? "Failed" : "Pending";
  const kind = status === "done" ? (failed ? "warn" : "ok") : status;
  return h("span", { class: `ec-tag mail-batch-tag mail-batch-tag-${kind}` }, text);
}

class BatchesPage {
  constructor(el, shell) {
    this.el = el;
    this.shell = shell;
    this.timer = null;
    this.accounts = null;
    el.classList.add("mail-batches-page");
    shell.onLeave(() => clearTimeout(this.timer));
  }

  get signal() { return { signal: this.shell.signal }; }

  route(shell) {
    this.shell = shell;
    clearTimeout(this.timer);
    this.seq = (this.seq || 0) + 1;
    const id = shell.path.replace(/\/$/, "").slice(BATCHES_PATH.length + 1);
    this.status = "";
    this.shown = PAGE_SIZE;
    if (id) this.showBatch(decodeURIComponent(id));
    else this.showList();
  }

  /** Ask again in POLL_MS while `running`; a newer route or leaving the page cancels it. */
  poll(running, fn) {
    clearTimeout(this.timer);
    if (!running || this.shell.signal.aborted) return;
    const seq = this.seq;
    this.timer = setTimeout(() => { if (seq === this.seq) fn(); }, POLL_MS);
  }

  async accountNames() {
    if (!this.accounts) {
      const list = await this.shell.api.get("mailAccounts:list", { paginate: false }, this.signal).then((r) => r.data || []);
      this.accounts = new Map(list.map((a) => [a.id, a.email]));
    }
    return this.accounts;
  }

  fail(err, retry) {
    if (err.name === "AbortError") return;
    this.body.replaceChildren(this.shell.errorState(err, retry));
  }

  frame(back, title, extra = null) {
    this.body = h("section", { class: "ec-card mail-batches-card" }, loadingState());
    this.el.replaceChildren(
      h("div", { class: "ec-page-head mail-batches-head" },
        h("div", {}, h("a", { class: "mail-batches-back", href: back.href }, icon("chevron-left"), back.text),
          h("h1", {}, title)),
        h("span", { class: "ec-spacer" }), extra),
      this.body);
  }

  // ------------------------------------------------------------ every batch

  async showList() {
    this.shell.setTitle("Batches");
    if (!this.body || this.view !== "list") this.frame({ href: "/admin/mail", text: "Email" }, "Batches");
    this.view = "list";
    const seq = this.seq;
    let batches, count, names;
    try {
      [{ batches, count }, names] = await Promise.all([
        this.shell.api.get("mailBatches:list", { sort: "-id", pageSize: this.shown }, this.signal)
          .then((r) => ({ batches: r.data || [], count: r.meta?.count ?? (r.data || []).length })),
        this.accountNames(),
      ]);
    } catch (err) { this.fail(err, () => this.showList()); return; }
    if (seq !== this.seq) return;
    if (!batches.length) {
      this.body.replaceChildren(this.shell.emptyState("No batch sends yet",
        "Select records on a collection's page and choose “Send email”: each gets its own message."));
      return;
    }
    this.body.replaceChildren(h("ul", { class: "mail-batch-list", "aria-label": "Batches" }, batches.map((b) =>
      h("li", { class: "mail-batch-item", dataset: { batchId: b.id } },
        h("div", { class: "mail-batch-line" },
          h("a", { class: "mail-batch-subject", href: batchPath(b.id) }, b.subject || "(no subject)"),
          statusTag(b.status, b.failed)),
        h("div", { class: "mail-batch-meta ec-muted" },
          h("span", {}, names.get(b.accountId) || `Account ${b.accountId}`), h("span", {}, fullDate(b.createdAt)),
          b.collection ? h("span", {}, `from ${b.collection}`) : null),
        progress(b)))),
    batches.length < count
      ? h("button", { class: "ec-btn mail-batch-more", type: "button",
        onclick: () => { this.shown += PAGE_SIZE; this.seq += 1; this.showList(); } }, `Show more (${count - batches.length} left)`)
      : "");
    this.poll(batches.some((b) => b.status === "running"), () => this.showList());
  }

  // ------------------------------------------------------------ one batch

  async showBatch(id) {
    const seq = this.seq;
    if (!this.body || this.view !== id) {
      this.retryBtn = h("button", { class: "ec-btn", type: "button", hidden: true, onclick: () => this.retry(id) },
        icon("refresh"), h("span", {}, "Retry failed"));
      this.frame({ href: BATCHES_PATH, text: "All batches" }, "Batch send", this.retryBtn);
      this.view = id;
    }
    let batch, rows, count, names;
    const filter = { batchId: id, ...(this.status ? { status: this.status } : {}) };
    try {
      [batch, { rows, count }, names] = await Promise.all([
        this.shell.api.get("mailBatches:get", { filterByTk: id }, this.signal).then((r) => r.data),
        this.shell.api.get("mailBatchRecipients:list", { filter, sort: "id", pageSize: this.shown }, this.signal)
          .then((r) => ({ rows: r.data || [], count: r.meta?.count ?? (r.data || []).length })),
        this.accountNames(),
      ]);
    } catch (err) { this.fail(err, () => this.showBatch(id)); return; }
    if (seq !== this.seq) return;
    this.shell.setTitle(batch.subject || "Batch send");
    this.el.querySelector(".mail-batches-head h1").textContent = batch.subject || "(no subject)";
    this.retryBtn.hidden = !(batch.failed > 0);
    this.retryBtn.querySelector("span").textContent = `Retry failed (${batch.failed})`;

    // the record's own page (the generic collection page's /<name>/<id>)
    const recordCell = (r) => (r.recordId == null || !batch.collection ? h("span", { class: "ec-muted" }, "—")
      : h("a", { href: `/admin/collections/${encodeURIComponent(batch.collection)}/${encodeURIComponent(r.recordId)}` },
        `${batch.collection} #${r.recordId}`));
    const tabs = h("div", { class: "mail-batch-tabs", role: "group", "aria-label": "Show recipients" },
      STATUSES.map(([value, text]) => h("button", {
        class: "ec-btn ec-btn-sm", type: "button", "aria-pressed": String(this.status === value), dataset: { focusKey: `tab-${value}` },
        onclick: () => { this.status = value; this.shown = PAGE_SIZE; clearTimeout(this.timer); this.seq += 1; this.showBatch(id); },
      }, text)));
    const table = h("table", { class: "ec-table mail-batch-recipients", "aria-label": "Recipients" },
      h("thead", {}, h("tr", {}, ["Address", "Record", "Status", "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", { class: `mail-recipient mail-recipient-${r.status}`, dataset: { address: r.address } },
        h("td", { class: "mail-recipient-address", "data-label": "Address" }, r.address),
        h("td", { "data-label": "Record" }, recordCell(r)),
        h("td", { "data-label": "Status" }, statusTag(r.status)),
        h("td", { class: "mail-recipient-error", "data-label": "Error" }, r.error || "")))));
    const more = rows.length < count
      ? h("button", { class: "ec-btn mail-batch-more", type: "button", dataset: { focusKey: "more" },
        onclick: () => { this.shown += PAGE_SIZE; this.seq += 1; this.showBatch(id); } }, `Show more (${count - rows.length} left)`)
      : null;
    // a refresh while running must not take the keyboard's place away
    const focused = this.body.contains(document.activeElement) ? document.activeElement.dataset?.focusKey : null;
    this.body.replaceChildren(
      h("div", { class: "mail-batch-summary" },
        h("div", { class: "mail-batch-line" }, statusTag(batch.status, batch.failed),
          h("span", { class: "ec-muted" }, `From ${batch.fromAddress ? (batch.fromName ? `${batch.fromName} <${batch.fromAddress}>` : batch.fromAddress)
            : names.get(batch.accountId) || `account ${batch.accountId}`}`),
          h("span", { class: "ec-muted" }, fullDate(batch.createdAt))),
        progress(batch)),
      tabs,
      rows.length ? h("div", { class: "mail-batch-table-wrap" }, table)
        : this.shell.emptyState(this.status ? "No recipient with this status" : "No recipients"),
      more || "");
    if (focused) this.body.querySelector(`[data-focus-key="${focused}"]`)?.focus();
    this.poll(batch.status === "running", () => this.showBatch(id));
  }

  async retry(id) {
    this.retryBtn.disabled = true;
    try {
      const r = await this.shell.api.post("mailBatches:retry", { filterByTk: id });
      const n = r.data?.retried ?? 0;
      this.shell.toast(`Sending again to ${n} ${n === 1 ? "recipient" : "recipients"}.`, { type: "success" });
      this.seq += 1;
      await this.showBatch(id);
    } catch (err) {
      this.shell.toast(err.message || String(err), { type: "error" });
    } finally {
      this.retryBtn.disabled = false;
    }
  }
}

export default async function mount(el, shell) {
  await loadMailCss();
  const page = new BatchesPage(el, shell);
  page.route(shell);
  return { update: (next) => page.route(next), unmount: () => clearTimeout(page.timer) };
}
