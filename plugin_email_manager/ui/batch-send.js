// Batch send from records (mailMessages:sendBatch): the dialog a collection page opens on its
// selected records, or on every record matching its filter. Each record with an address in the
// chosen email field gets its own message; `{{field}}` placeholders in the subject and body are
// filled from that record by the server (the preview here fills them from the first record the
// same way). The batch then goes on by itself; the Batches view (batches.js) follows it.
import { h, loadingState } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { richEditor, scrubHtml } from "./editor.js";
import { alertBox, openModal } from "./modal.js";
import { senders } from "./senders.js";

export const BATCHES_PATH = "/admin/mail/batches";
const CSS = new URL("./mail.css", import.meta.url).href;
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g; // as plugin_email_manager/batches.py
const NOT_PLACEHOLDERS = new Set(["belongsTo", "hasMany", "hasOne", "belongsToMany", "password"]);

/** The email center's stylesheet, for pages of other plugins that open these dialogs. */
export function loadMailCss() {
  if (document.querySelector(`link[href="${CSS}"]`)) return Promise.resolve();
  const link = h("link", { rel: "stylesheet", href: CSS });
  const done = new Promise((resolve) => { link.onload = resolve; link.onerror = resolve; });
  document.head.append(link);
  return done;
}

/** `{{name}}` filled from `values` as the server fills them (empty when absent). */
export function fillPlaceholders(template, values, escape = (s) => s) {
  return String(template || "").replace(PLACEHOLDER, (_, name) => {
    const v = values?.[name];
    const text = v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    return escape(text);
  });
}

const escapeText = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/** The link to a batch in the Batches view. */
export const batchPath = (id) => `${BATCHES_PATH}/${encodeURIComponent(id)}`;

/**
 * Open the batch send dialog for records of `collection`.
 * @param shell  the page's shell (api, toast, navigate)
 * @param {{collection: string|{name}, fields: Array<{name, title?, type, interface}>,
 *          selection: {filterByTk: Array} | {filter: object}}} o
 * @returns a promise of {batchId} once sent, or null when the dialog is closed without sending
 */
export async function openBatchSend(shell, { collection: named, fields = [], selection = {} }) {
  await loadMailCss();
  const collection = typeof named === "string" ? named : named?.name; // a name, or collections:list's entry
  const emailFields = fields.filter((f) => f.interface === "email");
  const placeholders = fields.filter((f) => !f.writeOnly && !NOT_PLACEHOLDERS.has(f.type) && !NOT_PLACEHOLDERS.has(f.interface));
  const pk = fields.find((f) => f.primaryKey)?.name || "id";
  const ids = Array.isArray(selection.filterByTk) ? selection.filterByTk : selection.filterByTk != null ? [selection.filterByTk] : null;
  const where = ids ? { [pk]: { $in: ids } } : selection.filter || {};
  const label = (f) => f.title || f.name;

  const error = alertBox("error");
  const content = h("div", { class: "mail-batch" }, loadingState("Preparing…"));
  const sendBtn = h("button", { class: "ec-btn ec-btn-primary", type: "button", disabled: true }, icon("send"), h("span", {}, "Send"));
  const cancelBtn = h("button", { class: "ec-btn", type: "button" }, "Cancel");
  let result = null;
  let dirty = false;
  const modal = openModal({
    title: "Send email to records", width: 760, className: "mail-batch-modal",
    body: [error, content],
    footer: [cancelBtn, sendBtn],
    beforeClose: () => (result || !dirty ? true
      : shell.confirm("Your message has not been sent. Discard it?", { title: "Discard this message?", okText: "Discard", danger: true })),
  });
  cancelBtn.addEventListener("click", () => modal.close());

  // what the dialog needs: the person's accounts, how many records, the first one (the preview)
  let accounts, identities, count, first;
  try {
    [accounts, identities, { count, first }] = await Promise.all([
      shell.api.get("mailAccounts:list", { paginate: false }).then((r) => r.data || []),
      shell.api.get("mailIdentities:list", { paginate: false }).then((r) => r.data || []).catch(() => []),
      shell.api.get(`${collection}:list`, { filter: where, pageSize: 1 })
        .then((r) => ({ count: r.meta?.count ?? (r.data || []).length, first: (r.data || [])[0] || null })),
    ]);
  } catch (err) {
    content.replaceChildren();
    error.show(err.message || String(err));
    return modal.closed.then(() => null);
  }

  // send as: each account, then its identities (the batch goes out from the one chosen)
  const choices = senders(accounts, identities);
  const accountSelect = h("select", { class: "ec-select mail-from", id: "mail-batch-from", "aria-label": "From" },
    choices.map((c, i) => h("option", { value: i }, c.label)));
  const fieldSelect = h("select", { class: "ec-select mail-from", id: "mail-batch-field", "aria-label": "Send to" },
    emailFields.map((f) => h("option", { value: f.name }, label(f))));
  const subject = h("input", { class: "mail-subject", id: "mail-batch-subject", type: "text", "aria-label": "Subject", placeholder: "Subject" });
  const editor = richEditor({ label: "Message body" });
  const countText = h("span", { class: "mail-batch-count", role: "status" });
  const previewTo = h("span", { class: "mail-batch-preview-to" });
  const previewSubject = h("strong", { class: "mail-batch-preview-subject" });
  const previewBody = h("div", { class: "mail-batch-preview-body" });
  const preview = h("section", { class: "mail-batch-preview", "aria-label": "Preview" },
    h("div", { class: "mail-batch-preview-head" }, h("span", { class: "ec-muted" }, "Preview for the first record"), previewTo),
    previewSubject, previewBody);

  // a chip inserts its placeholder where the person was writing: the subject or the body
  let target = "body";
  let savedRange = null;
  subject.addEventListener("focus", () => { target = "subject"; });
  editor.body.addEventListener("focus", () => { target = "body"; });
  const keepRange = () => {
    const s = getSelection();
    if (s.rangeCount && editor.body.contains(s.anchorNode)) savedRange = s.getRangeAt(0).cloneRange();
  };
  editor.body.addEventListener("keyup", keepRange);
  editor.body.addEventListener("mouseup", keepRange);
  editor.body.addEventListener("blur", keepRange);
  function insert(text) {
    if (target === "subject") {
      const at = subject.selectionStart ?? subject.value.length;
      const end = subject.selectionEnd ?? at;
      subject.setRangeText(text, at, end, "end");
      subject.focus();
    } else {
      editor.body.focus();
      const s = getSelection();
      s.removeAllRanges();
      if (savedRange) s.addRange(savedRange);
      else { const r = document.createRange(); r.selectNodeContents(editor.body); r.collapse(false); s.addRange(r); }
      document.execCommand("insertText", false, text);
      keepRange();
    }
    changed();
  }
  const chips = h("div", { class: "mail-batch-chips", role: "group", "aria-label": "Placeholders" },
    placeholders.map((f) => h("button", {
      class: "mail-batch-chip", type: "button", title: `Insert ${label(f)}`, "aria-label": `Insert {{${f.name}}}`,
      onmousedown: (e) => e.preventDefault(), // keep the caret where it was
      onclick: () => insert(`{{${f.name}}}`),
    }, `{{${f.name}}}`)));

  function paintCount() {
    const field = fieldSelect.value;
    const noun = count === 1 ? "record" : "records";
    countText.replaceChildren(icon("mails"),
      h("span", {}, `${count} ${noun}${ids ? " selected" : " matching the filter"}: one message each, to its `),
      h("strong", {}, label(emailFields.find((f) => f.name === field) || { name: field })),
      h("span", {}, " (records without an address are skipped)"));
  }
  function paintPreview() {
    previewTo.textContent = first ? `To ${[first[fieldSelect.value]].flat().filter(Boolean).join(", ") || "(no address)"}` : "";
    previewSubject.textContent = fillPlaceholders(subject.value, first || {}) || "(no subject)";
    previewBody.innerHTML = scrubHtml(fillPlaceholders(editor.html(), first || {}, escapeText));
  }
  let previewTimer = null;
  function changed() {
    dirty = true;
    clearTimeout(previewTimer);
    previewTimer = setTimeout(paintPreview, 150);
  }
  subject.addEventListener("input", changed);
  editor.body.addEventListener("input", changed);
  fieldSelect.addEventListener("change", () => { paintCount(); paintPreview(); });

  const row = (text, control, extra = null) => h("div", { class: "mail-field" },
    h("label", { class: "mail-field-label", for: control.id }, text), control, extra);
  content.replaceChildren(...[
    row("From", accountSelect), row("Send to", fieldSelect), countText,
    row("Subject", subject), editor.el,
    placeholders.length && h("div", { class: "mail-batch-insert" }, h("span", { class: "ec-muted" }, "Insert a field:"), chips),
    first && preview,
  ].filter(Boolean));
  paintCount();
  paintPreview();

  if (!accounts.length) {
    error.show("You have no mail account to send from yet.",
      h("a", { href: "/admin/mail", class: "mail-link-btn", onclick: () => modal.close(true) }, "Link one in the email center"));
  } else if (!emailFields.length) {
    error.show(`${collection} has no email field to send to.`);
  } else if (!count) {
    error.show("No record to send to.");
  } else {
    sendBtn.disabled = false;
  }

  sendBtn.addEventListener("click", async () => {
    error.clear();
    sendBtn.disabled = true;
    sendBtn.replaceChildren(h("span", { class: "ec-spinner" }), h("span", {}, "Sending…"));
    const records = { collection, field: fieldSelect.value, ...(ids ? { filterByTk: ids } : { filter: selection.filter || {} }) };
    try {
      const answer = await shell.api.post("mailMessages:sendBatch", {
        accountId: choices[accountSelect.value].accountId, from: choices[accountSelect.value].from, subject: subject.value, html: editor.html(), text: editor.text(), records,
      });
      result = { batchId: answer.data.batchId };
      modal.close(true);
      const link = h("a", { href: batchPath(result.batchId), class: "mail-batch-toast-link" }, "See its progress");
      shell.toast(h("span", {}, `Sending to ${count} ${count === 1 ? "record" : "records"}. `, link), { type: "success", duration: 8000 });
    } catch (err) {
      error.show(err.message || String(err));
    } finally {
      sendBtn.disabled = !!result;
      sendBtn.replaceChildren(icon("send"), h("span", {}, "Send"));
    }
  });
  subject.focus();
  await modal.closed;
  editor.destroy();
  clearTimeout(previewTimer);
  return result;
}
