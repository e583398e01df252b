// <ec-badge>: a top-bar icon button with a count bubble, linking to the badge's page.
// Attributes: name, icon, href, title, count. Set `count` (or call update()) to change it live.
import { h, icon } from "../dom.js";

class EcBadge extends HTMLElement {
  static observedAttributes = ["count", "icon", "href", "title"];

  connectedCallback() { this.render(); }
  attributeChangedCallback() { if (this.isConnected && !this._batch) this.render(); }

  /** Apply one entry of badges:list ({name, count, icon, href, title}). */
  update(badge) {
    this._batch = true;
    this.setAttribute("name", badge.name);
    this.setAttribute("icon", badge.icon || "");
    this.setAttribute("href", badge.href || "#");
    this.setAttribute("title", badge.title || badge.name);
    this.setAttribute("count", String(badge.count ?? 0));
    this._batch = false;
    if (this.isConnected) this.render();
  }

  render() {
    const count = Number(this.getAttribute("count") || 0);
    const label = this.getAttribute("title") || this.getAttribute("name") || "";
    const shown = count > 99 ? "99+" : String(count);
    const link = h("a", {
      class: "ec-badge-btn", href: this.getAttribute("href") || "#",
      "aria-label": count ? `${label}: ${count}` : label, "data-badge": this.getAttribute("name"),
    }, icon(this.getAttribute("icon") || ""),
    h("span", { class: "ec-badge-count", "data-zero": count === 0, "aria-hidden": "true" }, shown));
    this.replaceChildren(link);
  }
}

customElements.define("ec-badge", EcBadge);
export default EcBadge;
