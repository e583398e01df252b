// /admin: a welcome card and links to every page and collection.
import { h, icon } from "../dom.js";

function tile(href, title, sub, iconName) {
  return h("a", { class: "ec-tile", href }, h("span", { class: "ec-tile-icon" }, icon(iconName)),
    h("span", {}, h("span", {}, title), sub && h("small", {}, sub)));
}

export default async function mount(el, shell) {
  const { user, pages, collections } = shell;
  shell.setTitle("Dashboard");
  const name = user.nickname || user.email;
  const menuPages = pages.filter((p) => p.menu !== false);
  const badgeLine = h("p", { class: "ec-muted ec-badge-summary" });
  const showBadges = (list) => {
    const parts = list.filter((b) => b.count).map((b) => `${b.title || b.name}: ${b.count}`);
    badgeLine.textContent = parts.length ? parts.join(" · ") : "Nothing needs your attention right now.";
  };
  showBadges(shell.badges);
  shell.onLeave(shell.onBadges(showBadges));

  el.append(
    h("div", { class: "ec-page-head" }, h("div", {}, h("h1", {}, `Welcome, ${name}`),
      h("p", {}, `Signed in as ${user.email} · ${user.role}`))),
    h("section", { class: "ec-card ec-welcome" },
      h("div", { class: "ec-card-title" }, icon("mail"), h("h2", {}, "Email center")),
      h("p", { class: "ec-muted", style: { margin: "0 0 4px" } },
        "Link your mail accounts, read conversations and write mail from one place."),
      badgeLine),
    menuPages.length > 0 && h("section", { class: "ec-card" },
      h("div", { class: "ec-card-title" }, h("h2", {}, "Pages")),
      h("div", { class: "ec-grid" }, menuPages.map((p) => tile(p.path, p.title, p.plugin, p.icon || "file")))),
    h("section", { class: "ec-card" },
      h("div", { class: "ec-card-title" }, h("h2", {}, "Collections"), h("span", { class: "ec-muted" }, `${collections.length}`)),
      collections.length
        ? h("div", { class: "ec-grid" }, collections.map((c) => tile(`/admin/collections/${encodeURIComponent(c.name)}`, c.title || c.name, c.name, "table")))
        : shell.emptyState("No collections yet")));
}
