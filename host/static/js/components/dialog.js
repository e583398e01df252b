// <ec-dialog>: a modal built on the native <dialog> (focus trap, Esc, backdrop for free).
// `openDialog({...})` is what pages call; it resolves when the dialog closes.
import { h, icon } from "../dom.js";

class EcDialog extends HTMLElement {
  /**
   * @param {object} o
   * @param {string} o.title
   * @param {Node|string|Array} o.content  the body
   * @param {string} [o.okText="OK"]  @param {string|null} [o.cancelText="Cancel"] (null: no cancel button)
   * @param {boolean} [o.danger]  a red OK button
   * @param {number} [o.width=520]
   * @param {(dialog: EcDialog) => any} [o.onOk]  may be async; a throw keeps the dialog open and
   *   shows the error's message inside it; its result is what openDialog resolves to
   */
  open(o) {
    this.options = o;
    const okBtn = h("button", { class: `ec-btn ec-btn-primary${o.danger ? " ec-btn-danger-fill" : ""}`, type: "submit" }, o.okText || "OK");
    this.error = h("div", { class: "ec-alert", role: "alert", hidden: true });
    const form = h("form", { method: "dialog", class: "ec-dialog-form" },
      h("div", { class: "ec-dialog-head" }, h("h2", { class: "ec-dialog-title" }, o.title || ""),
        h("button", { class: "ec-btn ec-btn-text ec-btn-icon", type: "button", "aria-label": "Close", onclick: () => this.close(null) }, icon("x"))),
      h("div", { class: "ec-dialog-body" }, o.content, this.error),
      h("div", { class: "ec-dialog-foot" },
        o.cancelText !== null && h("button", { class: "ec-btn", type: "button", onclick: () => this.close(null) }, o.cancelText || "Cancel"),
        okBtn));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      this.error.hidden = true;
      okBtn.disabled = true;
      try {
        const result = o.onOk ? await o.onOk(this) : true;
        this.close(result === undefined ? true : result);
      } catch (err) {
        this.error.replaceChildren(icon("alert"), h("span", {}, err.message || String(err)));
        this.error.hidden = false;
      } finally {
        okBtn.disabled = false;
      }
    });
    this.dialog = h("dialog", { class: "ec-dialog", style: { width: `min(${o.width || 520}px, calc(100vw - 32px))` }, "aria-label": o.title || "Dialog" }, form);
    this.dialog.addEventListener("cancel", (event) => { event.preventDefault(); this.close(null); });
    this.dialog.addEventListener("click", (event) => { if (event.target === this.dialog) this.close(null); });
    this.replaceChildren(this.dialog);
    this.dialog.showModal();
    return new Promise((resolve) => { this.resolve = resolve; });
  }

  close(result) {
    if (!this.dialog) return;
    this.dialog.close();
    this.remove();
    this.resolve?.(result);
  }
}

customElements.define("ec-dialog", EcDialog);

/** Open a modal; resolves to onOk's result (or true), or null when dismissed. */
export function openDialog(options) {
  const el = document.body.appendChild(document.createElement("ec-dialog"));
  return el.open(options);
}

/** A yes/no question; resolves to true or false. */
export async function confirmDialog(message, { title = "Are you sure?", okText = "OK", danger = false } = {}) {
  const result = await openDialog({ title, content: h("p", { class: "ec-muted" }, message), okText, danger });
  return result === true;
}
