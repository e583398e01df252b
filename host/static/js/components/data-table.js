// <ec-data-table>: a table with sortable headers and its own loading, empty and error states.
// Properties: `columns` [{key, title, field?, sortable?, render?(value, row)}], `rows`, `sort`
// ("name" / "-name" / ""), `loading`, `error` (an Error: its message is shown), `emptyText`,
// `onRetry`. Clicking a sortable header cycles ascending → descending → none and fires
// "sort-change" with {sort} in `detail`.
import { emptyState, errorState, h, icon } from "../dom.js";
import { formatCell } from "../format.js";

class EcDataTable extends HTMLElement {
  constructor() {
    super();
    this._ = { columns: [], rows: [], sort: "", loading: false, error: null, emptyText: "No data" };
  }

  /** Set several properties and render once. */
  set(props) { Object.assign(this._, props); this.render(); }

  set columns(v) { this.set({ columns: v }); }
  set rows(v) { this.set({ rows: v }); }
  set sort(v) { this.set({ sort: v || "" }); }
  set loading(v) { this.set({ loading: !!v }); }
  set error(v) { this.set({ error: v }); }
  get rows() { return this._.rows; }
  get sort() { return this._.sort; }

  nextSort(key) {
    const s = this._.sort;
    if (s === key) return `-${key}`;
    if (s === `-${key}`) return "";
    return key;
  }

  header(col) {
    const s = this._.sort;
    const dir = s === col.key ? "ascending" : s === `-${col.key}` ? "descending" : null;
    if (!col.sortable) return h("th", { scope: "col" }, col.title);
    return h("th", { scope: "col", "aria-sort": dir || "none", class: dir ? "ec-sorted" : null },
      h("button", {
        class: "ec-th-sort", type: "button", title: `Sort by ${col.title}`,
        onclick: () => this.dispatchEvent(new CustomEvent("sort-change", { bubbles: true, detail: { sort: this.nextSort(col.key) } })),
      }, h("span", {}, col.title),
      h("span", { class: "ec-sort-icon", "aria-hidden": "true" }, icon(dir === "ascending" ? "arrow-up" : dir === "descending" ? "arrow-down" : "sort"))));
  }

  body() {
    const { columns, rows, loading, error } = this._;
    const span = Math.max(columns.length, 1);
    if (error) return h("tr", { class: "ec-table-state" }, h("td", { colspan: span }, errorState(error, this._.onRetry)));
    if (loading && !rows.length) {
      return Array.from({ length: 5 }, () => h("tr", { class: "ec-skeleton-row" },
        columns.map(() => h("td", {}, h("div", { class: "ec-skeleton" })))));
    }
    if (!rows.length) return h("tr", { class: "ec-table-state" }, h("td", { colspan: span }, emptyState(this._.emptyText)));
    return rows.map((row) => h("tr", { "data-id": row.id ?? null },
      columns.map((col) => h("td", { "data-column": col.key },
        col.render ? col.render(row[col.key], row) : formatCell(row[col.key], col.field || {})))));
  }

  render() {
    const { columns, loading, rows } = this._;
    this.classList.add("ec-table-host");
    this.toggleAttribute("aria-busy", loading);
    const table = h("table", { class: "ec-table" },
      h("thead", {}, h("tr", {}, columns.map((c) => this.header(c)))),
      h("tbody", {}, this.body()));
    const mask = loading && rows.length
      ? h("div", { class: "ec-table-mask", role: "status", "aria-label": "Loading" }, h("div", { class: "ec-spinner" })) : "";
    this.replaceChildren(h("div", { class: "ec-table-wrap" }, table), mask);
  }
}

customElements.define("ec-data-table", EcDataTable);
export default EcDataTable;
