// /admin/collections/<name>/<id>: one record. A "Details" tab (every field, formatted as the
// table formats it) and the tabs plugins add (../extensions.js). The tab and what the tab keeps
// (e.g. its page) live in the query string (?tab=emails&page=2): reload, back and links keep them.
import { fieldTitle, formatCell } from "../format.js";
import { filterableFields } from "../filters.js";
import { extensions, forCollection } from "../extensions.js";

const NAME_FIELDS = ["title", "name", "nickname", "displayName", "subject", "email"];

/** What a person calls the record: its first title-like field, else "#<id>". */
function recordName(record, id) {
  const key = NAME_FIELDS.find((k) => typeof record[k] === "string" && record[k].trim());
  return key ? record[key] : `#${id}`;
}

export default async function mount(el, shell) {
  const { h, icon } = shell;
  const parts = shell.path.split("/").filter(Boolean);
  const name = decodeURIComponent(parts[2] || "");
  const id = decodeURIComponent(parts[3] || "");
  const listPath = `/admin/collections/${encodeURIComponent(name)}`;
  const known = shell.collections.find((c) => c.name === name);
  const back = h("a", { class: "ec-btn ec-btn-text ec-record-back", href: listPath,
    onclick: (e) => {
      // back to the list as it was (its page and filter) when the person came from it
      if (history.state?.fromList) { e.preventDefault(); history.back(); }
    } }, icon("chevron-left"), h("span", {}, known?.title || name));
  const title = h("h1", {}, `#${id}`);
  const head = h("div", { class: "ec-page-head ec-record-head" }, h("div", { class: "ec-record-title" }, back, title));
  const body = h("section", { class: "ec-card ec-record" }, shell.loadingState());
  el.append(head, body);
  shell.setTitle(`${known?.title || name} #${id}`);

  let collection;
  let record;
  let ext;
  try {
    const [meta, registry] = await Promise.all([shell.collectionsMeta(), extensions(shell)]);
    collection = meta.find((c) => c.name === name);
    if (!collection) {
      body.replaceChildren(shell.emptyState("No such collection", `There is no collection named “${name}”.`));
      return;
    }
    ext = forCollection(registry, collection, shell);
    record = (await shell.api.get(`${name}:get`, { filterByTk: id }, { signal: shell.signal })).data;
  } catch (err) {
    if (err.name === "AbortError") return;
    if (err.status === 404) {
      body.replaceChildren(shell.emptyState("No such record", `${collection?.title || name} has no record #${id}, or it is not yours to see.`,
        h("a", { class: "ec-btn ec-btn-primary", href: listPath }, `Back to ${collection?.title || name}`)));
      return;
    }
    body.replaceChildren(shell.errorState(err, () => shell.navigate(location.pathname + location.search, { replace: true })));
    return;
  }
  const label = recordName(record, id);
  title.textContent = label;
  shell.setTitle(`${label} · ${collection.title || name}`);

  const details = {
    id: "details", title: "Details",
    render(panel) {
      const fields = filterableFields(collection.fields || []);
      panel.append(h("dl", { class: "ec-record-fields" }, fields.map((f) => [
        h("dt", {}, fieldTitle(f)),
        h("dd", { "data-field": f.name }, ext.cell(record[f.name], f, record) ?? formatCell(record[f.name], f)),
      ])));
    },
  };
  const tabs = [details, ...ext.tabs];
  const params = () => new URLSearchParams(location.search);
  const tabList = h("div", { class: "ec-tabs", role: "tablist", "aria-label": `${label}: views` });
  const panel = h("div", { class: "ec-tab-panel", role: "tabpanel" });
  body.replaceChildren(tabList, panel);
  let controller = null;
  shell.onLeave(() => controller?.abort());

  function setParams(patch, { tab } = {}) {
    const q = tab ? new URLSearchParams() : params();
    if (tab && tab !== "details") q.set("tab", tab);
    for (const [k, v] of Object.entries(patch || {})) {
      if (v === null || v === undefined || v === "") q.delete(k); else q.set(k, String(v));
    }
    const search = q.toString();
    history.replaceState(history.state, "", `${location.pathname}${search ? `?${search}` : ""}`);
  }

  function show(tabId) {
    const tab = tabs.find((t) => t.id === tabId) || details;
    controller?.abort();
    controller = new AbortController();
    tabList.replaceChildren(...tabs.map((t) => h("button", {
      class: "ec-tab", type: "button", role: "tab", id: `ec-tab-${t.id}`, "aria-selected": String(t === tab),
      tabindex: t === tab ? "0" : "-1",
      onclick: () => { if (t !== tab) { setParams({}, { tab: t.id }); show(t.id); } },
      onkeydown: (e) => {
        const i = tabs.indexOf(t);
        const next = e.key === "ArrowRight" ? tabs[(i + 1) % tabs.length] : e.key === "ArrowLeft" ? tabs[(i - 1 + tabs.length) % tabs.length] : null;
        if (!next) return;
        e.preventDefault();
        setParams({}, { tab: next.id });
        show(next.id);
        tabList.querySelector(`#ec-tab-${next.id}`)?.focus();
      },
    }, t.title)));
    panel.setAttribute("aria-labelledby", `ec-tab-${tab.id}`);
    panel.replaceChildren();
    try {
      const out = tab.render(panel, { collection, record, shell, signal: controller.signal, params: params(), setParams });
      Promise.resolve(out).catch((err) => { if (err?.name !== "AbortError") panel.replaceChildren(shell.errorState(err)); });
    } catch (err) {
      panel.replaceChildren(shell.errorState(err));
    }
  }

  show(params().get("tab") || "details");
}
