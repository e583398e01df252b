// "Send as" in the settings dialog: the identities of each linked account (another name and
// address it may send from, with an optional Reply-To), add and remove. Compose lists them under
// their account in From. Built with h() only: no HTML strings, no inline styles (the page's CSP).
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";

/** The section for `accounts` (the dialog's list); `app.api` is the mail API. */
export function identitiesSetting(app, accounts) {
  const { shell, api } = app;
  const body = h("div", { class: "mail-identities-body" });
  const note = h("p", { class: "ec-muted mail-webhooks-note", role: "status" });
  const section = h("section", { class: "mail-webhooks mail-identities", "aria-label": "Send as" },
    h("div", { class: "mail-webhooks-head" }, h("h3", { class: "mail-side-title" }, "Send as")),
    h("p", { class: "ec-muted mail-webhooks-hint" },
      "Other addresses an account may send from (an alias, a shared address its server accepts). Replies use the address a message was written to."),
    note, body);
  let identities = [];

  async function load() {
    identities = await api.identities();
    paint();
  }

  function paint() {
    if (!accounts.length) { section.hidden = true; return; }
    const rows = identities.map((i) => {
      const account = accounts.find((a) => a.id === i.accountId);
      const label = i.name ? `${i.name} <${i.email}>` : i.email;
      return h("li", { class: "mail-webhook mail-identity" },
        h("div", { class: "mail-webhook-main" },
          h("div", { class: "mail-webhook-text" }, h("strong", {}, label),
            h("small", { class: "ec-muted" }, [account ? `via ${account.email}` : "", i.replyTo ? `Reply-To ${i.replyTo}` : ""].filter(Boolean).join(" · "))),
          h("div", { class: "mail-webhook-actions" },
            h("button", { class: "ec-btn ec-btn-sm ec-btn-danger", type: "button", onclick: () => remove(i), "aria-label": `Remove ${i.email}` },
              icon("trash"), "Remove"))));
    });
    body.replaceChildren(
      rows.length ? h("ul", { class: "mail-webhook-list", "aria-label": "Identities" }, rows) : h("p", { class: "ec-muted" }, "No other address yet."),
      form());
  }

  function form() {
    const account = h("select", { class: "ec-select", "aria-label": "Account" }, accounts.map((a) => h("option", { value: a.id }, a.email)));
    const name = h("input", { class: "ec-input", type: "text", placeholder: "Name", "aria-label": "Identity name" });
    const email = h("input", { class: "ec-input", type: "email", placeholder: "Address", "aria-label": "Identity address", required: true });
    const replyTo = h("input", { class: "ec-input", type: "email", placeholder: "Reply-To (optional)", "aria-label": "Identity Reply-To" });
    const add = h("button", { class: "ec-btn ec-btn-sm", type: "submit" }, icon("plus"), "Add address");
    const f = h("form", { class: "mail-identity-form" }, account, name, email, replyTo, add);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      add.disabled = true;
      try {
        await api.createIdentity({ accountId: Number(account.value), name: name.value.trim(), email: email.value.trim(),
          replyTo: replyTo.value.trim() || null });
        note.textContent = "";
        shell.toast(`${email.value.trim()} was added`, { type: "success" });
        await load();
      } catch (err) {
        note.textContent = err.message || "The address could not be added.";
        add.disabled = false;
      }
    });
    return f;
  }

  async function remove(i) {
    const ok = await shell.confirm(`Mail can no longer be sent as “${i.email}”.`, { title: "Remove this address?", okText: "Remove", danger: true });
    if (!ok) return;
    try {
      await api.deleteIdentity(i.id);
      await load();
    } catch (err) {
      note.textContent = err.message;
    }
  }

  load();
  return section;
}
