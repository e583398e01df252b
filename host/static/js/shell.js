// The admin shell: top bar (badges, user menu), side menu, content area, and a history-API router
// that mounts the built-in pages and the plugins' pages (host.api.UIEntry) into the content area.
//
// A plugin page is an ES module whose default export is `async function mount(element, shell)`.
// `element` is an empty <div> in the content area; `shell` holds:
//
//   api              js/api.js: api.get(path, params), api.post(path, body, {params}),
//                    api.request(method, path, {params, body, signal}), api.resource(name).list(...);
//                    rejects with ApiError {status, code, message}; a 401 goes to /signin by itself
//   ApiError         the error class, for `instanceof`
//   user             {id, email, nickname, role}
//   pages            every UI entry [{plugin, path, title, module, icon, menu}]
//   collections      [{name, title}]
//   extensions       URLs of the modules that extend the host's pages (host.api.UIExtension): each
//                    exports extendCollectionPage(registry), to render fields of an interface, add
//                    tabs to a record's page and actions over selected rows (js/extensions.js)
//   collectionsMeta()  a promise of collections:list (every collection with its fields), cached
//   badges           the latest badge list; onBadges(fn) calls fn(list) on each change and
//                    returns an unsubscribe function
//   toast(message, {type: "success"|"error"|"info"|"warning", duration})   (+ toast.success/error)
//   openDialog({title, content, okText, cancelText, danger, width, onOk}) → Promise of onOk's result or null
//   confirm(message, {title, okText, danger}) → Promise<boolean>
//   navigate(path, {replace})  go to another page of the shell without a reload
//   setTitle(text)   the browser tab's title
//   h(tag, attrs, ...children), icon(name), loadingState(), emptyState(), errorState(err, retry)
//   path, params     the location the page was mounted for (pathname, URLSearchParams)
//   signal           an AbortSignal aborted when the person leaves the page (pass it to api calls)
//   onLeave(fn)      run fn when the person leaves the page
//
// Built-in pages: /admin (dashboard), /admin/collections/<name> (the generic table: a row opens
// its record; with plugins' row actions, rows can be selected) and /admin/collections/<name>/<id>
// (a record: "Details" and the plugins' tabs, ?tab=<id>).
//
// `mount` may return a function (called when the page is left) or an object
// {unmount?(), update?(shell)}: with `update`, moving between paths of the same entry
// (e.g. /admin/mail → /admin/mail/thread/5) calls update instead of mounting again.
import { api, ApiError, setToken } from "./api.js";
import { emptyState, errorState, h, icon, loadingState, mount as fill } from "./dom.js";
import { confirmDialog, openDialog } from "./components/dialog.js";
import { toast } from "./components/toast.js";
import { startBadges } from "./badges.js";
import "./components/badge.js";

const PRODUCT = "Email center";
const state = { boot: null, current: null, badges: [], badgeListeners: new Set(), metaPromise: null };
const $ = (sel) => document.querySelector(sel);

function collectionsMeta() {
  if (!state.metaPromise) {
    state.metaPromise = api.get("collections:list", { paginate: false }).then((r) => r.data || []);
    state.metaPromise.catch(() => { state.metaPromise = null; });
  }
  return state.metaPromise;
}

// ---------------------------------------------------------------- routes

const BUILTIN = [
  { match: (p) => p === "/admin" || p === "/admin/", title: "Dashboard", load: () => import("./pages/dashboard.js") },
  {
    match: (p) => /^\/admin\/collections\/[^/]+\/?$/.test(p),
    title: "Collection", key: (p) => p, load: () => import("./pages/collection.js"),
  },
  {
    match: (p) => /^\/admin\/collections\/[^/]+\/[^/]+\/?$/.test(p),
    title: "Record", key: (p) => p, load: () => import("./pages/record.js"),
  },
];

function resolve(pathname) {
  const pages = [...(state.boot?.pages || [])].sort((a, b) => b.path.length - a.path.length);
  const page = pages.find((p) => pathname === p.path || pathname.startsWith(`${p.path.replace(/\/$/, "")}/`));
  if (page) return { key: `plugin:${page.path}`, title: page.title, load: () => import(page.module) };
  const builtin = BUILTIN.find((r) => r.match(pathname));
  if (builtin) return { key: builtin.key ? builtin.key(pathname) : builtin.title, title: builtin.title, load: builtin.load };
  return { key: "404", title: "Not found", load: async () => ({ default: notFound }) };
}

async function notFound(el) {
  fill(el, h("div", { class: "ec-card" }, emptyState("Page not found", `Nothing lives at ${location.pathname}.`,
    h("a", { class: "ec-btn ec-btn-primary", href: "/admin" }, icon("home"), "Back to the dashboard"))));
}

function pageShell(controller) {
  return {
    api, ApiError, user: state.boot.user, pages: state.boot.pages, collections: state.boot.collections,
    extensions: state.boot.extensions,
    collectionsMeta, get badges() { return state.badges; }, onBadges,
    toast, openDialog, confirm: confirmDialog, navigate, setTitle,
    h, icon, loadingState, emptyState, errorState,
    path: location.pathname, params: new URLSearchParams(location.search),
    signal: controller.signal, onLeave: (fn) => controller.signal.addEventListener("abort", () => fn(), { once: true }),
  };
}

async function route() {
  const content = $("#ec-content");
  const target = resolve(location.pathname);
  highlightMenu();
  closeDrawer();
  const cur = state.current;
  if (cur && cur.key === target.key && cur.handle?.update) {
    cur.handle.update(pageShell(cur.controller));
    return;
  }
  if (cur) {
    cur.controller.abort();
    try { typeof cur.handle === "function" ? cur.handle() : cur.handle?.unmount?.(); } catch (e) { console.error(e); }
  }
  const controller = new AbortController();
  const el = h("div", { class: "ec-page" });
  state.current = { key: target.key, controller, handle: null };
  setTitle(target.title);
  fill(content, loadingState());
  try {
    const mod = await target.load();
    if (controller.signal.aborted) return;
    fill(content, el);
    const handle = await mod.default(el, pageShell(controller));
    if (!controller.signal.aborted) state.current.handle = handle;
  } catch (err) {
    if (controller.signal.aborted || err.name === "AbortError") return;
    console.error(err);
    fill(content, h("div", { class: "ec-card" }, errorState(err, () => route())));
  }
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  route();
}

export function setTitle(text) {
  document.title = text ? `${text} · ${PRODUCT}` : PRODUCT;
}

function onBadges(fn) {
  state.badgeListeners.add(fn);
  return () => state.badgeListeners.delete(fn);
}

// ---------------------------------------------------------------- layout

function menuItem(href, title, iconName) {
  return h("a", { class: "ec-menu-item", href }, icon(iconName), h("span", {}, title));
}

function highlightMenu() {
  const p = location.pathname.replace(/\/$/, "") || "/admin";
  let best = null;
  for (const a of document.querySelectorAll(".ec-menu-item")) {
    a.removeAttribute("aria-current");
    const href = a.getAttribute("href");
    if ((p === href || p.startsWith(`${href}/`)) && (!best || href.length > best.getAttribute("href").length)) best = a;
  }
  best?.setAttribute("aria-current", "page");
}

function closeDrawer() {
  document.body.classList.remove("ec-drawer-open");
  $(".ec-menu-toggle")?.setAttribute("aria-expanded", "false");
}

function userMenu(user) {
  const name = user.nickname || user.email;
  const drop = h("div", { class: "ec-dropdown", role: "menu", hidden: true },
    h("div", { class: "ec-dropdown-head" }, h("div", {}, name), h("small", {}, user.email), h("small", {}, `Role: ${user.role}`)),
    h("button", { class: "ec-dropdown-item", type: "button", role: "menuitem", onclick: signOut }, icon("logout"), "Sign out"));
  const btn = h("button", {
    class: "ec-user-btn", type: "button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `Account: ${name}`,
    onclick: (e) => { e.stopPropagation(); toggle(drop.hidden); },
  }, h("span", { class: "ec-avatar", "aria-hidden": "true" }, (name || "?").trim().charAt(0)), h("span", { class: "ec-user-name" }, name),
  icon("chevron-down"));
  const toggle = (open) => { drop.hidden = !open; btn.setAttribute("aria-expanded", String(open)); };
  document.addEventListener("click", (e) => { if (!drop.contains(e.target)) toggle(false); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") toggle(false); });
  return h("div", { class: "ec-user" }, btn, drop);
}

async function signOut() {
  try { await api.post("auth:signOut", {}); } catch { /* signed out locally anyway */ }
  setToken(null);
  location.assign("/signin");
}

function layout(boot) {
  const plugin = boot.pages.filter((p) => p.menu !== false);
  const sider = h("nav", { class: "ec-sider", id: "ec-sider", "aria-label": "Main menu" },
    menuItem("/admin", "Dashboard", "dashboard"),
    plugin.map((p) => menuItem(p.path, p.title, p.icon || "file")),
    h("div", { class: "ec-menu-group", role: "heading", "aria-level": "2" }, "Collections"),
    boot.collections.map((c) => menuItem(`/admin/collections/${encodeURIComponent(c.name)}`, c.title || c.name, "table")));
  const toggle = h("button", {
    class: "ec-btn ec-btn-text ec-btn-icon ec-menu-toggle", type: "button", "aria-label": "Open menu",
    "aria-controls": "ec-sider", "aria-expanded": "false",
    onclick: () => {
      const open = document.body.classList.toggle("ec-drawer-open");
      toggle.setAttribute("aria-expanded", String(open));
    },
  }, icon("menu"));
  const header = h("header", { class: "ec-header" }, toggle,
    h("a", { class: "ec-brand", href: "/admin" }, h("span", { class: "ec-logo" }, icon("mail")), h("span", {}, PRODUCT)),
    h("div", { class: "ec-header-actions" }, h("div", { class: "ec-badges", id: "ec-badges" }), userMenu(boot.user)));
  document.body.replaceChildren(header, sider, h("div", { class: "ec-scrim", onclick: closeDrawer }),
    h("main", { class: "ec-main", id: "ec-content" }), document.createElement("ec-toasts"));
}

function renderBadges(list) {
  state.badges = list;
  const box = $("#ec-badges");
  if (box) {
    const have = new Map([...box.children].map((el) => [el.getAttribute("name"), el]));
    const els = list.map((b) => {
      const el = have.get(b.name) || document.createElement("ec-badge");
      el.update(b);
      return el;
    });
    box.replaceChildren(...els);
  }
  for (const fn of state.badgeListeners) { try { fn(list); } catch (e) { console.error(e); } }
}

// ---------------------------------------------------------------- start

document.addEventListener("click", (e) => {
  const a = e.target.closest?.("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target && a.target !== "_self") return;
  if (a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !/^\/admin(\/|$)/.test(url.pathname) || !state.boot) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search + url.hash);
  else closeDrawer();
});
window.addEventListener("popstate", () => state.boot && route());

async function boot() {
  const content = $("#ec-content");
  try {
    const res = await api.get("app:shell");
    state.boot = { user: {}, pages: [], collections: [], extensions: [], ...res.data };
  } catch (err) {
    if (err.status === 401) return; // api.js is already on its way to /signin
    fill(content, h("div", { class: "ec-card" }, errorState(err, () => boot())));
    return;
  }
  layout(state.boot);
  startBadges(renderBadges);
  route();
}

boot();
