// /admin/collections/<name>: the generic page of any collection. Its state (page, pageSize,
// sort, filter) lives in the query string, so reload, back and shared links keep it. A row opens
// its record (pages/record.js). Plugins' extensions (../extensions.js) may render fields of an
// interface and add actions over the selected rows: with any such action the rows get
// checkboxes, and "Select all N" selects every row matching the filter.
import { fieldTitle, formatCell, JSON_TYPES } from "../format.js";
import { append } from "../dom.js";
import { extensions, forCollection } from "../extensions.js";
import { filterableFields, parseFilter } from "../filters.js";
import { PAGE_SIZES } from "../components/pagination.js";
import "../components/data-table.js";
import "../components/filter-builder.js";
import "../components/pagination.js";

function readState(params) {
  let filter = null;
  try { filter = params.get("filter") ? JSON.parse(params.get("filter")) : null; } catch { filter = null; }
  const pageSize = Number(params.get("pageSize"));
  return {
    page: Math.max(1, Number(params.get("page")) || 1),
    pageSize: PAGE_SIZES.includes(pageSize) ? pageSize : 20,
    sort: params.get("sort") || "",
    filter,
  };
}

function writeState(name, s) {
  const q = new URLSearchParams();
  if (s.page > 1) q.set("page", String(s.page));
  if (s.pageSize !== 20) q.set("pageSize", String(s.pageSize));
  if (s.sort) q.set("sort", s.sort);
  if (s.filter) q.set("filter", JSON.stringify(s.filter));
  const search = q.toString();
  history.replaceState(null, "", `/admin/collections/${encodeURIComponent(name)}${search ? `?${search}` : ""}`);
}

export default async function mount(el, shell) {
  const { h, icon } = shell;
  const name = decodeURIComponent(shell.path.split("/").filter(Boolean)[2] || "");
  const s = readState(shell.params);
  const known = shell.collections.find((c) => c.name === name);
  const title = known?.title || name;
  shell.setTitle(title);

  const refresh = h("button", { class: "ec-btn", type: "button", onclick: () => load() }, icon("refresh"), h("span", {}, "Refresh"));
  const head = h("div", { class: "ec-page-head" },
    h("div", {}, h("h1", {}, title), h("p", {}, h("code", { class: "ec-json" }, name))),
    h("span", { class: "ec-spacer" }), refresh);
  const table = document.createElement("ec-data-table");
  const filterBar = document.createElement("ec-filter-builder");
  const pager = document.createElement("ec-pagination");
  const selectionBar = h("div", { class: "ec-selection-bar", role: "toolbar", "aria-label": "Selected rows", hidden: true });
  const card = h("section", { class: "ec-card ec-collection" },
    h("div", { class: "ec-toolbar" }, filterBar), selectionBar, table, pager);
  el.append(head, card);

  // the fields first: they make the columns and the filter's choices
  let fields;
  let found;
  let ext;
  table.set({ loading: true, columns: [{ key: "_", title: "" }, { key: "__", title: "" }, { key: "___", title: "" }] });
  try {
    const [meta, registry] = await Promise.all([shell.collectionsMeta(), extensions(shell)]);
    found = meta.find((c) => c.name === name);
    if (!found) {
      card.replaceChildren(shell.emptyState("No such collection", `There is no collection named “${name}”.`,
        h("a", { class: "ec-btn ec-btn-primary", href: "/admin" }, "Back to the dashboard")));
      return;
    }
    fields = filterableFields(found.fields || []);
    ext = forCollection(registry, found, shell);
    if (found.title && found.title !== title) { head.querySelector("h1").textContent = found.title; shell.setTitle(found.title); }
  } catch (err) {
    if (err.name === "AbortError") return;
    card.replaceChildren(shell.errorState(err, () => shell.navigate(location.pathname + location.search, { replace: true })));
    return;
  }

  const columns = fields.map((f) => ({ key: f.name, title: fieldTitle(f), field: f, sortable: !JSON_TYPES.has(f.type),
    render: (value, row) => ext.cell(value, f, row) ?? formatCell(value, f) }));
  filterBar.fields = fields;
  filterBar.conditions = parseFilter(s.filter);
  let count = 0;
  let rows = [];
  let seq = 0;
  let inflight = null;
  shell.onLeave(() => inflight?.abort());

  const pk = (found.fields || []).find((f) => f.primaryKey)?.name || "id";
  const recordPath = (row) => (row[pk] === null || row[pk] === undefined ? null
    : `/admin/collections/${encodeURIComponent(name)}/${encodeURIComponent(row[pk])}`);
  table.set({ rowHref: recordPath, rowKey: (row) => row[pk], selectable: ext.rowActions.length > 0 });
  table.addEventListener("row-open", (e) => {
    shell.navigate(e.detail.href);
    history.replaceState({ fromList: true }, "", location.href); // the record's Back returns here, as it was
  });

  // the selection: rows picked (kept across pages), or every row matching the filter
  let everyMatching = false;
  const selection = () => (everyMatching ? { filter: s.filter || {} } : { filterByTk: [...table.selected] });
  function clearSelection() {
    everyMatching = false;
    table.selected = [];
    paintSelection();
  }
  function paintSelection() {
    const n = everyMatching ? count : table.selected.size;
    card.classList.toggle("is-all-selected", everyMatching);
    selectionBar.hidden = n === 0;
    if (!n) { selectionBar.replaceChildren(); return; }
    const pageKeys = rows.map((r) => r[pk]);
    const wholePage = pageKeys.length > 0 && pageKeys.every((k) => table.selected.has(k));
    selectionBar.replaceChildren();
    append(selectionBar, [
      h("span", { class: "ec-selection-count", role: "status" },
        everyMatching ? `All ${count} ${s.filter ? "matching records" : "records"} selected` : `${n} selected`),
      !everyMatching && wholePage && count > n && h("button", {
        class: "ec-btn ec-btn-text ec-select-all", type: "button",
        onclick: () => { everyMatching = true; paintSelection(); },
      }, `Select all ${count}${s.filter ? " matching the filter" : ""}`),
      h("button", { class: "ec-btn ec-btn-text", type: "button", onclick: clearSelection }, "Clear selection"),
      h("span", { class: "ec-spacer" }),
      ext.rowActions.map((a) => h("button", {
        class: "ec-btn", type: "button",
        onclick: () => a.run({ collection: found, fields: found.fields || [], selection: selection(), shell }),
      }, a.icon ? icon(a.icon) : null, h("span", {}, a.title)))]);
  }
  table.addEventListener("selection-change", () => {
    everyMatching = false; // unticking a row of "all matching" leaves the rows shown but that one
    paintSelection();
  });

  async function load() {
    const mine = ++seq;
    inflight?.abort();
    inflight = new AbortController();
    writeState(name, s);
    table.set({ columns, sort: s.sort, loading: true, error: null, onRetry: load, emptyText: s.filter ? "No records match the filter" : "No records yet" });
    pager.state = { page: s.page, pageSize: s.pageSize, count, disabled: true };
    refresh.disabled = true;
    try {
      const res = await shell.api.get(`${name}:list`, {
        page: s.page, pageSize: s.pageSize, sort: s.sort || undefined, filter: s.filter || undefined,
      }, { signal: inflight.signal });
      if (mine !== seq) return;
      rows = Array.isArray(res.data) ? res.data : [];
      count = res.meta?.count ?? rows.length;
      const totalPage = Math.max(1, Math.ceil(count / s.pageSize));
      if (!rows.length && s.page > totalPage) { s.page = totalPage; load(); return; }
      if (everyMatching) table.set({ selected: rows.map((r) => r[pk]) });
      table.set({ rows, loading: false });
    } catch (err) {
      if (err.name === "AbortError" || mine !== seq) return;
      rows = [];
      count = 0;
      table.set({ rows, loading: false, error: err });
    } finally {
      if (mine === seq) {
        refresh.disabled = false;
        pager.state = { page: s.page, pageSize: s.pageSize, count, disabled: false };
        paintSelection();
      }
    }
  }

  table.addEventListener("sort-change", (e) => { s.sort = e.detail.sort; s.page = 1; load(); });
  pager.addEventListener("page-change", (e) => { s.page = e.detail.page; s.pageSize = e.detail.pageSize; load(); });
  filterBar.addEventListener("filter-change", (e) => { s.filter = e.detail.filter; s.page = 1; clearSelection(); load(); });
  await load();
}
