// <ec-data-table>: a table with sortable headers and its own loading, empty and error states.
// Properties: `columns` [{key, title, field?, sortable?, render?(value, row)}], `rows`, `sort`
// ("name" / "-name" / ""), `loading`, `error` (an Error: its message is shown), `emptyText`,
// `onRetry`. Clicking a sortable header cycles ascending → descending → none and fires
// "sort-change" with {sort} in `detail`.
//
// Optional: `rowHref(row)` makes each row open its record (a click anywhere on the row but its
// controls fires "row-open" with {row, href}; its first cell is a real link, for the keyboard and
// a new tab). `selectable` adds a checkbox per row and one for the page; `selected` is a Set of
// row keys (`rowKey(row)`, row.id by default); a change fires "selection-change" with {selected}
// (an array of keys).
import { emptyState, errorState, h, icon } from "../dom.js";
import { formatCell } from "../format.js";

class EcDataTable extends HTMLElement {
  constructor() {
    super();
    this._ = { columns: [], rows: [], sort: "", loading: false, error: null, emptyText: "No data",
      rowHref: null, selectable: false, selected: new Set(), rowKey: (row) => row.id };
  }

  /** Set several properties and render once. */
  set(props) { Object.assign(this._, props); this.render(); }

  set columns(v) { this.set({ columns: v }); }
  set rows(v) { this.set({ rows: v }); }
  set sort(v) { this.set({ sort: v || "" }); }
  set loading(v) { this.set({ loading: !!v }); }
  set error(v) { this.set({ error: v }); }
  set selected(v) { this.set({ selected: new Set(v) }); }
  get rows() { return this._.rows; }
  get selected() { return this._.selected; }
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

  select(keys, on) {
    const selected = new Set(this._.selected);
    for (const key of keys) { if (on) selected.add(key); else selected.delete(key); }
    this.set({ selected });
    this.dispatchEvent(new CustomEvent("selection-change", { bubbles: true, detail: { selected: [...selected] } }));
  }

  /** The page's checkbox: checked when every row of the page is selected, mixed when some are. */
  pageBox() {
    const { rows, rowKey, selected, loading } = this._;
    const keys = rows.map(rowKey);
    const n = keys.filter((k) => selected.has(k)).length;
    const box = h("input", { type: "checkbox", class: "ec-check", "aria-label": "Select this page", checked: !!keys.length && n === keys.length,
      disabled: !keys.length || loading, onchange: (e) => this.select(keys, e.target.checked) });
    box.indeterminate = n > 0 && n < keys.length;
    return h("th", { scope: "col", class: "ec-check-cell" }, box);
  }

  row(row) {
    const { columns, rowHref, selectable, selected, rowKey } = this._;
    const key = rowKey(row);
    const href = rowHref ? rowHref(row) : null;
    const cells = columns.map((col, i) => {
      const content = col.render ? col.render(row[col.key], row) : formatCell(row[col.key], col.field || {});
      const linked = href && i === 0 && !(content instanceof Element && (content.matches("a") || content.querySelector("a")));
      return h("td", { "data-column": col.key }, linked ? h("a", { class: "ec-row-open", href }, content) : content);
    });
    const tr = h("tr", { "data-id": row.id ?? null, class: [href && "ec-row-link", selected.has(key) && "is-selected"].filter(Boolean).join(" ") || null },
      selectable && h("td", { class: "ec-check-cell" }, h("input", {
        type: "checkbox", class: "ec-check", "aria-label": `Select row ${key}`, checked: selected.has(key),
        onchange: (e) => this.select([key], e.target.checked),
      })),
      cells);
    if (href) {
      tr.addEventListener("click", (e) => {
        if (e.defaultPrevented) return;
        const open = e.target.closest("a.ec-row-open");
        if (open && (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)) return; // a new tab
        if (open) e.preventDefault();
        else if (e.target.closest("a, button, input, label, select, textarea")) return;
        if (getSelection()?.toString()) return; // selecting text to copy is not opening
        this.dispatchEvent(new CustomEvent("row-open", { bubbles: true, detail: { row, href } }));
      });
    }
    return tr;
  }

  body() {
    const { columns, rows, loading, error, selectable } = this._;
    const span = Math.max(columns.length + (selectable ? 1 : 0), 1);
    if (error) return h("tr", { class: "ec-table-state" }, h("td", { colspan: span }, errorState(error, this._.onRetry)));
    if (loading && !rows.length) {
      return Array.from({ length: 5 }, () => h("tr", { class: "ec-skeleton-row" },
        selectable && h("td", { class: "ec-check-cell" }), columns.map(() => h("td", {}, h("div", { class: "ec-skeleton" })))));
    }
    if (!rows.length) return h("tr", { class: "ec-table-state" }, h("td", { colspan: span }, emptyState(this._.emptyText)));
    return rows.map((row) => this.row(row));
  }

  render() {
    const { columns, loading, rows } = this._;
    this.classList.add("ec-table-host");
    this.toggleAttribute("aria-busy", loading);
    const table = h("table", { class: "ec-table" },
      h("thead", {}, h("tr", {}, this._.selectable && this.pageBox(), columns.map((c) => this.header(c)))),
      h("tbody", {}, this.body()));
    const mask = loading && rows.length
      ? h("div", { class: "ec-table-mask", role: "status", "aria-label": "Loading" }, h("div", { class: "ec-spinner" })) : "";
    this.replaceChildren(h("div", { class: "ec-table-wrap" }, table), mask);
  }
}

customElements.define("ec-data-table", EcDataTable);
export default EcDataTable;
