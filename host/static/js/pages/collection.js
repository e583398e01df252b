// /admin/collections/<name>: the generic page of any collection. Its state (page, pageSize,
// sort, filter) lives in the query string, so reload, back and shared links keep it.
import { fieldTitle, JSON_TYPES } from "../format.js";
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
  const card = h("section", { class: "ec-card ec-collection" },
    h("div", { class: "ec-toolbar" }, filterBar), table, pager);
  el.append(head, card);

  // the fields first: they make the columns and the filter's choices
  let fields;
  table.set({ loading: true, columns: [{ key: "_", title: "" }, { key: "__", title: "" }, { key: "___", title: "" }] });
  try {
    const meta = await shell.collectionsMeta();
    const found = meta.find((c) => c.name === name);
    if (!found) {
      card.replaceChildren(shell.emptyState("No such collection", `There is no collection named “${name}”.`,
        h("a", { class: "ec-btn ec-btn-primary", href: "/admin" }, "Back to the dashboard")));
      return;
    }
    fields = filterableFields(found.fields || []);
    if (found.title && found.title !== title) { head.querySelector("h1").textContent = found.title; shell.setTitle(found.title); }
  } catch (err) {
    if (err.name === "AbortError") return;
    card.replaceChildren(shell.errorState(err, () => shell.navigate(location.pathname + location.search, { replace: true })));
    return;
  }

  const columns = fields.map((f) => ({ key: f.name, title: fieldTitle(f), field: f, sortable: !JSON_TYPES.has(f.type) }));
  filterBar.fields = fields;
  filterBar.conditions = parseFilter(s.filter);
  let count = 0;
  let rows = [];
  let seq = 0;
  let inflight = null;
  shell.onLeave(() => inflight?.abort());

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
      }
    }
  }

  table.addEventListener("sort-change", (e) => { s.sort = e.detail.sort; s.page = 1; load(); });
  pager.addEventListener("page-change", (e) => { s.page = e.detail.page; s.pageSize = e.detail.pageSize; load(); });
  filterBar.addEventListener("filter-change", (e) => { s.filter = e.detail.filter; s.page = 1; load(); });
  await load();
}
