// What plugins add to the host's own pages (host.api.UIExtension), without the host knowing what
// they are about. app:shell answers `extensions`: module URLs; each module exports
// `extendCollectionPage(registry)`, called once per session, where `registry` offers:
//
//   registry.cell(interface, render)
//       how a field whose `interface` (collections:list) is that one shows, in the table and in
//       a record's Details: render(value, {field, row, collection, shell}) → a node, or null to
//       fall back to the host's formatting.
//   registry.tab({id, title, when?(collection), render(element, ctx)})
//       a tab on a record's page (/admin/collections/<name>/<id>?tab=<id>) for the collections
//       `when` accepts (every one without it); ctx = {collection, record, shell, signal, params,
//       setParams(patch)}: `params` is the URL's query (the tab keeps its own state there, e.g.
//       page), setParams writes it back (replaceState). `collection` is collections:list's
//       {name, title, fields}; `record` the row `get` answered.
//   registry.rowAction({id, title, icon?, when?(collection), run(ctx)})
//       a button over the generic table's selected rows; ctx = {collection, fields, selection,
//       shell}: `selection` is {filterByTk: [ids]} (rows picked) or {filter} (every row matching
//       the page's filter: {} for all).
//
// A module that fails to load is logged and left out: one plugin never breaks the page.

let loaded = null;

function emptyRegistry() {
  const cells = new Map();
  const tabs = [];
  const rowActions = [];
  return {
    cells, tabs, rowActions,
    cell(iface, render) { cells.set(iface, render); },
    tab(tab) { tabs.push(tab); },
    rowAction(action) { rowActions.push(action); },
  };
}

/** The registry filled by every extension module of `shell.extensions` (loaded once). */
export function extensions(shell) {
  if (!loaded) {
    const registry = emptyRegistry();
    loaded = Promise.all((shell.extensions || []).map(async (url) => {
      try {
        const mod = await import(url);
        mod.extendCollectionPage?.(registry);
      } catch (err) {
        console.error(`extension ${url} failed to load`, err);
      }
    })).then(() => registry);
  }
  return loaded;
}

const applies = (item, collection) => !item.when || item.when(collection);

/** The tabs and row actions for `collection`, and its cell renderer for a field. */
export function forCollection(registry, collection, shell) {
  return {
    tabs: registry.tabs.filter((t) => applies(t, collection)),
    rowActions: registry.rowActions.filter((a) => applies(a, collection)),
    /** A cell node for `field` of `row`, or null when no extension renders its interface. */
    cell(value, field, row) {
      const render = registry.cells.get(field.interface);
      if (!render) return null;
      try {
        return render(value, { field, row, collection, shell }) ?? null;
      } catch (err) {
        console.error(err);
        return null;
      }
    },
  };
}
