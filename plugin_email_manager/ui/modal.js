// A modal with the shell's dialog look (.ec-dialog) but a footer of our own: the compose and
// account dialogs need more than OK/Cancel, and must not submit on Enter as the shell's <form>
// based dialog does.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";

/**
 * openModal({title, body, footer, width, className, beforeClose}) → {dialog, body, foot, setTitle, close}
 * `beforeClose()` may answer false (or a promise of false) to keep the modal open (e.g. unsaved
 * text); `close(force)` skips it. `closed` is a promise resolved once the modal is gone.
 */
export function openModal({ title, body, footer = null, width = 520, className = "", beforeClose = null }) {
  const titleEl = h("h2", { class: "ec-dialog-title", id: `mail-modal-${Math.random().toString(36).slice(2)}` }, title);
  const bodyEl = h("div", { class: "ec-dialog-body" }, body);
  const footEl = footer ? h("div", { class: "ec-dialog-foot" }, footer) : null;
  const dialog = h("dialog", {
    class: `ec-dialog mail-modal ${className}`.trim(), "aria-labelledby": titleEl.id,
    style: { width: `min(${width}px, calc(100vw - 32px))` },
  });
  let resolveClosed;
  const closed = new Promise((r) => { resolveClosed = r; });
  const close = async (force = false) => {
    if (!dialog.isConnected) return;
    if (!force && beforeClose && (await beforeClose()) === false) return;
    dialog.close();
    dialog.remove();
    resolveClosed();
  };
  dialog.append(h("div", { class: "ec-dialog-form" },
    h("div", { class: "ec-dialog-head" }, titleEl,
      h("button", { class: "ec-btn ec-btn-text ec-btn-icon", type: "button", "aria-label": "Close", onclick: () => close() },
        icon("x"))),
    bodyEl, footEl));
  dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  // a press that starts and ends on the backdrop closes; a text selection dragged out does not
  let downOnBackdrop = false;
  dialog.addEventListener("mousedown", (e) => { downOnBackdrop = e.target === dialog; });
  dialog.addEventListener("click", (e) => { if (downOnBackdrop && e.target === dialog) close(); });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, body: bodyEl, foot: footEl, close, closed, setTitle: (t) => { titleEl.textContent = t; } };
}

/** An inline alert (the shell's .ec-alert look) holding `message`; hidden when message is empty. */
export function alertBox(kind = "error") {
  const el = h("div", { class: `ec-alert mail-alert mail-alert-${kind}`, role: "alert", hidden: true });
  el.show = (message, extra = null) => {
    el.replaceChildren(icon(kind === "error" ? "alert" : "info"), h("div", {}, h("span", {}, message), extra));
    el.hidden = !message;
  };
  el.clear = () => { el.hidden = true; el.replaceChildren(); };
  return el;
}
