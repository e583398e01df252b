// The compose dialog: new mail, or a reply / reply all / forward prepared by the server
// (prepareReply / prepareForward), sent with mailMessages:send. A failed send shows the server's
// message and keeps the dialog open; when the server kept the message as a draft (draftId), the
// next Send sends that draft.
import { h, loadingState } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { addressField } from "./chips.js";
import { escapeHtml, richEditor } from "./editor.js";
import { CLIENT_LIMIT_MIB, attachments } from "./attach.js";
import { alertBox, openModal } from "./modal.js";
import { afterHeld, sendLater } from "./later.js";
import { senders } from "./senders.js";

const AUTOSAVE_MS = 4000; // a draft saves itself this long after typing pauses

/** POST mailMessages:send with upload progress (fetch has none): resolves to the answer's data. */
function sendRequest(shell, payload, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/mailMessages:send");
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    const token = shell.api.getToken?.();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json?.data);
      else reject(new shell.ApiError(xhr.status, json?.errors?.[0] || {}, json));
      if (xhr.status === 401) shell.api.sessionEnded(); // as the shell's own calls do
    };
    xhr.onerror = () => reject(shell.api.networkError());
    xhr.send(JSON.stringify(payload));
  });
}

/**
 * Open the dialog. `prepare` (optional) is an async function answering the server's draft
 * ({to, cc, subject, html, accountId, inReplyTo?, forwardOf?, attachments?}); the dialog shows a
 * spinner until it arrives.
 */
export function openCompose(app, { title = "New message", prepare = null } = {}) {
  const { shell } = app;
  const error = alertBox("error");
  const content = h("div", { class: "mail-compose" }, loadingState("Preparing…"));
  const sendBtn = h("button", { class: "ec-btn ec-btn-primary mail-send", type: "button" }, icon("send"), h("span", {}, "Send"));
  const fileInput = h("input", { type: "file", multiple: true, hidden: true, "aria-label": "Attach files" });
  const attachBtn = h("button", { class: "ec-btn", type: "button", onclick: () => fileInput.click(), title: "Attach files" },
    icon("paperclip"), h("span", { class: "mail-btn-label" }, "Attach"));
  const later = sendLater({ onPick: (at) => send({ sendAt: at.toISOString() }) });
  const draftBtn = h("button", { class: "ec-btn ec-btn-text", type: "button" }, "Save draft");
  const discardBtn = h("button", { class: "ec-btn ec-btn-text ec-btn-icon", type: "button", "aria-label": "Discard", title: "Discard" }, icon("trash"));
  const status = h("span", { class: "ec-muted mail-compose-status", role: "status", "aria-live": "polite" });
  const templateSlot = h("span", { class: "mail-template-slot" });
  // a template puts its text at the top of the body, and its subject when there is none yet
  const templatePicker = (templates) => {
    if (!templates.length) return "";
    const select = h("select", { class: "ec-select mail-template-select", "aria-label": "Insert a template" },
      h("option", { value: "" }, "Template…"), templates.map((t) => h("option", { value: t.id }, t.name)));
    select.addEventListener("change", () => {
      const t = templates.find((x) => String(x.id) === select.value);
      select.value = "";
      if (!t || !ui) return;
      if (!ui.subject.value.trim() && t.subject) ui.subject.value = t.subject;
      ui.editor.insertTop(t.html || escapeHtml(t.text || "").replace(/\n/g, "<br>"));
      scheduleAutosave();
    });
    return select;
  };
  let ui = null; // the fields, once the draft is ready
  let sent = false;
  let busy = false;
  let initial = "";

  const snapshot = () => (ui ? JSON.stringify([ui.to.list(), ui.cc.list(), ui.bcc.list(), ui.subject.value, ui.editor.html(), ui.files.files.length]) : "");
  const modal = openModal({
    title, width: 780, className: "mail-compose-modal",
    body: [error, content],
    footer: [h("div", { class: "mail-compose-foot" }, sendBtn, later.el, attachBtn, draftBtn, templateSlot, status, h("span", { class: "mail-toolbar-spacer" }), discardBtn)],
    beforeClose: async () => {
      if (sent || !ui || snapshot() === initial) return true;
      return shell.confirm("Your message has not been sent. Discard it?", { title: "Discard this message?", okText: "Discard", danger: true });
    },
  });
  [sendBtn, later.button, attachBtn, draftBtn].forEach((b) => { b.disabled = true; });
  modal.dialog.append(fileInput);

  const setBusy = (on, text = "") => {
    busy = on;
    [sendBtn, attachBtn, draftBtn, discardBtn].forEach((b) => { b.disabled = on; });
    later.setDisabled(on);
    sendBtn.replaceChildren(on ? h("span", { class: "ec-spinner" }) : icon("send"), h("span", {}, on ? text || "Sending…" : "Send"));
    sendBtn.setAttribute("aria-busy", String(on));
  };

  /** The default signature for an account: its own, else one for every account. */
  const signatureFor = (signatures, accountId) => (
    signatures.find((x) => x.isDefault && x.accountId === accountId)
    || signatures.find((x) => x.isDefault && x.accountId == null))?.html || "";

  function build(p = {}, { signatures = [], templates = [], identities = [] } = {}) {
    const choices = senders(app.accounts, identities);
    const accountId = p.accountId ?? app.filters.account ?? choices[0]?.accountId;
    // prepareReply answers `from` (an address); a draft's own From is {name, address}
    const wanted = String(p.from?.address ?? p.from ?? "").toLowerCase();
    const mine = (c) => c.accountId === accountId;
    const chosen = Math.max(0, choices.findIndex((c) => mine(c) && c.from.toLowerCase() === wanted), choices.findIndex(mine));
    const from = h("select", { class: "ec-select mail-from", "aria-label": "From" },
      choices.map((c, i) => h("option", { value: i, selected: i === chosen }, c.label)));
    from.choices = choices;
    const to = addressField({ label: "To", values: p.to || [] });
    const cc = addressField({ label: "Cc", values: p.cc || [] });
    const bcc = addressField({ label: "Bcc", values: p.bcc || [] });
    cc.el.hidden = !(p.cc || []).length;
    bcc.el.hidden = true;
    const reveal = (field, btn) => { field.el.hidden = false; btn.hidden = true; field.focus(); };
    const ccBtn = h("button", { class: "mail-link-btn", type: "button", hidden: !cc.el.hidden, onclick: () => reveal(cc, ccBtn) }, "Cc");
    const bccBtn = h("button", { class: "mail-link-btn", type: "button", onclick: () => reveal(bcc, bccBtn) }, "Bcc");
    to.el.append(h("span", { class: "mail-field-extra" }, ccBtn, bccBtn));
    const subject = h("input", { class: "mail-subject", type: "text", value: p.subject || "", "aria-label": "Subject", placeholder: "Subject" });
    const fromId = choices[Number(from.value)]?.accountId;
    const editor = richEditor({ html: p.html || "", quoted: !p.draftId,
      signature: p.draftId ? "" : signatureFor(signatures, fromId) });
    const files = attachments({ carried: p.attachments || [], limitMiB: app.maxMiB || CLIENT_LIMIT_MIB, onMessage: (m) => error.show(m) });
    const drop = h("div", { class: "mail-drop", "aria-hidden": "true" }, icon("upload"), h("span", {}, "Drop files to attach them"));
    content.replaceChildren(
      h("div", { class: "mail-field" }, h("label", { class: "mail-field-label" }, "From"), from),
      to.el, cc.el, bcc.el,
      h("div", { class: "mail-field" }, h("label", { class: "mail-field-label", for: "mail-subject" }, "Subject"), subject),
      editor.el, files.el, drop);
    subject.id = "mail-subject";
    ui = { from, to, cc, bcc, subject, editor, files, p, draftId: p.draftId || null };
    templateSlot.replaceChildren(templatePicker(templates));
    initial = snapshot();
    [sendBtn, later.button, attachBtn, draftBtn].forEach((b) => { b.disabled = false; });
    if (!(p.to || []).length) to.focus(); else editor.focus();
  }

  const sender = () => {
    const c = ui.from.choices[Number(ui.from.value)];
    return { accountId: c.accountId, from: c.from };
  };

  function payload(extra = {}) {
    const { p } = ui;
    return {
      ...sender(), to: ui.to.list(), cc: ui.cc.list(), bcc: ui.bcc.list(), subject: ui.subject.value,
      text: ui.editor.text(), html: ui.editor.html(),
      // a forward names its original with forwardOf only: prepareForward's inReplyTo is the
      // original's Message-ID header (a string), not one of our ids
      ...(p.forwardOf ? { forwardOf: p.forwardOf } : Number.isInteger(p.inReplyTo) ? { inReplyTo: p.inReplyTo } : {}),
      ...(ui.draftId ? { draftId: ui.draftId } : {}), ...extra,
    };
  }

  function showError(err) {
    const d = err.detail || {};
    if (d.draftId) ui.draftId = d.draftId;
    if (err.code === "INVALID_ADDRESS" && d.address) [ui.to, ui.cc, ui.bcc].some((f) => f.markInvalid(d.address));
    if (err.code === "ATTACHMENT_TOO_LARGE" && d.limitMiB) app.maxMiB = Number(d.limitMiB);
    const kept = ui.draftId ? h("div", { class: "mail-alert-note" }, "Your message was kept as a draft. Send again to retry.") : null;
    error.show(err.message || "The message could not be sent.", kept);
    error.scrollIntoView?.({ block: "nearest" });
  }

  async function send(extra = {}) {
    if (!ui || busy) return;
    error.clear();
    const bad = [...ui.to.invalid(), ...ui.cc.invalid(), ...ui.bcc.invalid()];
    if (bad.length) { error.show(`Check this address: “${bad[0]}” is not a valid email address.`); return; }
    if (!ui.to.list().length && !ui.cc.list().length && !ui.bcc.list().length) {
      error.show("Add at least one recipient.");
      ui.to.focus();
      return;
    }
    setBusy(true, "Sending…");
    try {
      if (saving) await saving;
      const body = payload({ attachments: await ui.files.payload(), ...extra });
      const answer = await sendRequest(shell, body, (f) => { if (busy) setBusy(true, f < 1 ? `Sending… ${Math.round(f * 100)}%` : "Sending…"); });
      sent = true;
      modal.close(true);
      // held by the server (sendAt, or the person's undo window): it goes out later
      if (answer?.status === "scheduled") afterHeld(app, answer, { scheduled: !!extra.sendAt });
      else shell.toast("Message sent", { type: "success" });
      app.afterSend();
    } catch (err) {
      setBusy(false);
      showError(err);
    }
  }

  /** Save as a draft (here and in the server's Drafts folder). `quiet`: the automatic save a
   * few seconds after typing stops, which neither blocks the dialog nor reloads the list. */
  let saving = null; // a save in flight: Send waits for it (the same draft, the same Message-ID)
  function saveDraft({ quiet = false } = {}) {
    if (!ui || busy || sent) return saving;
    saving = writeDraft(quiet).finally(() => { saving = null; });
    return saving;
  }

  async function writeDraft(quiet) {
    if (!quiet) { error.clear(); setBusy(true, "Saving…"); }
    const state = snapshot();
    try {
      const saved = await app.api.saveDraft(payload({ attachments: await ui.files.payload() }));
      ui.draftId = saved?.id ?? saved?.draftId ?? ui.draftId;
      initial = state;
      const at = new Date().toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
      status.textContent = quiet ? `Draft saved automatically at ${at}` : `Draft saved at ${at}`;
      if (!quiet) app.afterSend();
    } catch (err) {
      if (quiet) status.textContent = "The draft could not be saved yet.";
      else showError(err);
    } finally {
      if (!quiet) setBusy(false);
    }
  }

  // drafts save themselves once typing pauses (NocoBase parity: "drafts saved automatically")
  let autosave = null;
  const scheduleAutosave = () => {
    clearTimeout(autosave);
    autosave = setTimeout(() => { if (ui && !busy && !sent && snapshot() !== initial) saveDraft({ quiet: true }); }, AUTOSAVE_MS);
  };
  modal.dialog.addEventListener("input", scheduleAutosave);
  modal.dialog.addEventListener("change", scheduleAutosave);
  modal.closed.then(() => clearTimeout(autosave));

  sendBtn.addEventListener("click", () => send());
  draftBtn.addEventListener("click", () => saveDraft());
  discardBtn.addEventListener("click", () => modal.close());
  fileInput.addEventListener("change", () => { ui?.files.add(fileInput.files); fileInput.value = ""; });
  modal.dialog.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
  });
  // drag and drop anywhere on the dialog
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  modal.dialog.addEventListener("dragenter", (e) => { if (!hasFiles(e)) return; e.preventDefault(); depth += 1; modal.dialog.classList.add("is-dragging"); });
  modal.dialog.addEventListener("dragover", (e) => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; } });
  modal.dialog.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) modal.dialog.classList.remove("is-dragging"); });
  modal.dialog.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    modal.dialog.classList.remove("is-dragging");
    ui?.files.add(e.dataTransfer.files);
  });
  modal.closed.then(() => ui?.editor.destroy());

  if (!app.accounts.length) {
    content.replaceChildren(h("div", { class: "ec-state" }, icon("mail"), h("strong", {}, "Link an account first"),
      h("span", {}, "Mail is sent from one of your linked accounts."),
      h("button", { class: "ec-btn ec-btn-primary", type: "button", onclick: () => { modal.close(true); app.openAccounts(); } }, "Link account")));
    return modal;
  }
  const extras = Promise.all([app.api.signatures(), app.api.templates(), app.api.identities()])
    .then(([signatures, templates, identities]) => ({ signatures, templates, identities }));
  if (prepare) {
    Promise.all([prepare(), extras]).then(([p, x]) => { if (modal.dialog.isConnected) build(p, x); }).catch((err) => {
      content.replaceChildren();
      error.show(err.message || "Could not prepare the message.");
    });
  } else {
    extras.then((x) => { if (modal.dialog.isConnected) build({}, x); });
  }
  return modal;
}
