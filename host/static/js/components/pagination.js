// <ec-pagination>: "x–y of N", a page-size select, prev / next. Set `state` to
// {page, pageSize, count, estimate?} (estimate: "of about N"); it fires "page-change" with {page, pageSize} in `detail`.
import { h, icon } from "../dom.js";

export const PAGE_SIZES = [10, 20, 50, 100];

class EcPagination extends HTMLElement {
  set state({ page = 1, pageSize = 20, count = 0, estimate = false, disabled = false }) {
    this._state = { page, pageSize, count, estimate, disabled };
    this.render();
  }

  get state() { return this._state; }

  emit(page, pageSize) {
    this.dispatchEvent(new CustomEvent("page-change", { detail: { page, pageSize }, bubbles: true }));
  }

  render() {
    const { page, pageSize, count, estimate, disabled } = this._state;
    const totalPage = Math.max(1, Math.ceil(count / pageSize));
    const from = count ? (page - 1) * pageSize + 1 : 0;
    const to = Math.min(count, page * pageSize);
    const fmt = new Intl.NumberFormat();
    this.classList.add("ec-pagination");
    this.replaceChildren(
      h("span", { class: "ec-range", "data-testid": "range" }, `${fmt.format(from)}–${fmt.format(to)} of ${estimate ? "about " : ""}${fmt.format(count)}`),
      h("span", { class: "ec-pagination-spacer" }),
      h("label", { class: "ec-page-size" },
        h("span", { class: "ec-sr-only" }, "Rows per page"),
        h("select", {
          class: "ec-select", "aria-label": "Rows per page", disabled,
          onchange: (e) => this.emit(1, Number(e.target.value)),
        }, PAGE_SIZES.map((n) => h("option", { value: n, selected: n === pageSize }, `${n} / page`)))),
      h("button", {
        class: "ec-btn ec-btn-icon", type: "button", "aria-label": "Previous page", disabled: disabled || page <= 1,
        onclick: () => this.emit(page - 1, pageSize),
      }, icon("chevron-left")),
      h("span", { class: "ec-page-of" }, `${page} / ${totalPage}`),
      h("button", {
        class: "ec-btn ec-btn-icon", type: "button", "aria-label": "Next page", disabled: disabled || page >= totalPage,
        onclick: () => this.emit(page + 1, pageSize),
      }, icon("chevron-right")),
    );
  }
}

customElements.define("ec-pagination", EcPagination);
export default EcPagination;
