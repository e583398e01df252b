// <ec-toasts>: the stack of short messages at the top of the screen. `toast(message, {type})`
// finds (or adds) the one stack on the page.
import { h, icon } from "../dom.js";

const ICONS = { success: "check-circle", error: "alert", info: "info", warning: "alert" };

class EcToasts extends HTMLElement {
  connectedCallback() {
    this.classList.add("ec-toasts");
    this.setAttribute("aria-live", "polite");
    // a manual popover lives in the top layer, so a toast shows above an open modal <dialog>
    if ("popover" in HTMLElement.prototype) this.setAttribute("popover", "manual");
  }

  /** Bring the stack to the top of the top layer (above a dialog opened after it). */
  raise() {
    if (!this.hasAttribute("popover")) return;
    if (this.matches(":popover-open")) this.hidePopover();
    this.showPopover();
  }

  /** Show `message`; `type` is success | error | info | warning; `duration` in ms (0 = stay). */
  show(message, { type = "info", duration = type === "error" ? 6000 : 3000 } = {}) {
    const close = () => {
      item.classList.add("ec-toast-leave");
      setTimeout(() => item.remove(), 200);
    };
    const item = h("div", { class: `ec-toast ec-toast-${type}`, role: type === "error" ? "alert" : "status" },
      icon(ICONS[type] || "info"), h("span", { class: "ec-toast-text" }, message),
      h("button", { class: "ec-toast-close", type: "button", "aria-label": "Close", onclick: close }, icon("x")));
    this.append(item);
    this.raise();
    if (duration) setTimeout(close, duration);
    return close;
  }
}

customElements.define("ec-toasts", EcToasts);

export function toast(message, options) {
  let host = document.querySelector("ec-toasts");
  if (!host) host = document.body.appendChild(document.createElement("ec-toasts"));
  return host.show(message, options);
}

toast.success = (m, o) => toast(m, { ...o, type: "success" });
toast.error = (m, o) => toast(m, { ...o, type: "error" });
toast.info = (m, o) => toast(m, { ...o, type: "info" });

export default toast;
