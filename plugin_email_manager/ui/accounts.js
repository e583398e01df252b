// The "Account settings" dialog: linked accounts with status, last sync and error; "Link account"
// (Google or Microsoft in a pop-up, or the IMAP/SMTP form); repair an account in error (a new
// password or a re-link when its sign-in was refused, Try again when its server was down); sync
// now; delete with a confirmation. Polls while an account is syncing; a first sync shows its
// progress bar in the account's row. Linking Google or Microsoft takes a sync start date too.
import { emptyState, h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { ago } from "./format.js";
import { alertBox, openModal } from "./modal.js";
import { imapForm } from "./imap-form.js";
import { undoSetting } from "./later.js";
import { identitiesSetting } from "./identities.js";
import { webhooksSetting } from "./webhooks.js";
import { syncBar } from "./sync-bar.js";

const PROVIDERS = { google: "Google", microsoft: "Microsoft", imap: "IMAP/SMTP" };
const STATUS = { ready: ["Ready", "mail-tag-green"], syncing: ["Syncing", "mail-tag-blue"], error: ["Error", "mail-tag-red"] };

/** Open the dialog; `start` "link" opens on the choice of provider. */
export function openAccounts(app, { start = "list" } = {}) {
  const { shell, api } = app;
  const error = alertBox("error");
  const view = h("div", { class: "mail-accounts-view" });
  const modal = openModal({ title: "Account settings", width: 680, className: "mail-accounts-modal", body: [error, view] });
  let mode = start;
  let accounts = app.accounts.slice();
  let timer = null;
  let popup = null;
  let waiting = null; // provider name while its pop-up is open
  let since = ""; // the sync start date chosen for an OAuth link ("" = all mail)

  const refresh = async () => {
    try {
      accounts = await api.accounts();
      app.accountsChanged(accounts);
      if (mode === "list") paint();
    } catch (err) {
      error.show(err.message);
    }
    clearTimeout(timer);
    if (modal.dialog.isConnected && (accounts.some((a) => a.status === "syncing" || a.parsePending || a.syncProgress) || waiting)) {
      timer = setTimeout(refresh, 1500);
    }
  };

  const onMessage = (e) => {
    if (e.origin !== location.origin || e.data?.type !== "mail-account-linked") return;
    waiting = null;
    shell.toast("Account linked", { type: "success" });
    mode = "list";
    refresh();
  };
  window.addEventListener("message", onMessage);
  modal.closed.then(() => { clearTimeout(timer); window.removeEventListener("message", onMessage); });

  async function linkOAuth(provider, accountId = null) {
    error.clear();
    // opened at once, inside the click, so that no pop-up blocker stops it; pointed at the
    // provider when the server answers
    popup = window.open("", "mail-account-link", "popup,width=520,height=700");
    waiting = PROVIDERS[provider];
    paint();
    try {
      const url = await api.link(provider, accountId, accountId ? null : since);
      if (popup && !popup.closed) popup.location.href = url;
      else {
        error.show("Your browser blocked the sign-in window.",
          h("a", { href: url, target: "_blank", rel: "opener", class: "mail-alert-link" }, `Continue to ${PROVIDERS[provider]} in a new tab`));
      }
      const watch = setInterval(() => {
        if (!popup || popup.closed) { clearInterval(watch); waiting = null; refresh(); }
      }, 700);
      refresh();
    } catch (err) {
      popup?.close();
      waiting = null;
      error.show(err.message || "Linking could not start.");
      paint();
    }
  }

  async function remove(a) {
    const ok = await shell.confirm(`“${a.email}” and all of its mail will be removed from the email center. The mail stays on the mail server.`,
      { title: "Delete this account?", okText: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.deleteAccount(a.id);
      shell.toast(`${a.email} was deleted`, { type: "success" });
      await refresh();
      app.reloadAll();
    } catch (err) {
      error.show(err.message);
    }
  }

  async function syncNow(a, btn) {
    btn.disabled = true;
    btn.replaceChildren(h("span", { class: "ec-spinner mail-spinner-inline" }), "Syncing…");
    try {
      await api.sync(a.id);
      app.reloadAll();
    } catch (err) {
      error.show(err.message);
    } finally {
      refresh();
    }
  }

  async function resync(a, btn) {
    const ok = await shell.confirm(`Every message of “${a.email}” will be fetched again from the mail server. `
      + "Labels, to-dos and notes stay on their messages. A big mailbox takes a while.",
    { title: "Re-sync this account?", okText: "Re-sync" });
    if (!ok) return;
    btn.disabled = true;
    btn.replaceChildren(h("span", { class: "ec-spinner mail-spinner-inline" }), "Re-syncing…");
    try {
      await api.resync(a.id);
      shell.toast(`${a.email} was synced again`, { type: "success" });
      app.reloadAll();
    } catch (err) {
      error.show(err.message);
    } finally {
      refresh();
    }
  }

  // an IMAP account in error (most often: its password changed) takes a new password here
  function passwordForm(a) {
    const input = h("input", { class: "ec-input", type: "password", autocomplete: "current-password",
      placeholder: "New password or app password", "aria-label": `New password for ${a.email}`, required: true });
    const save = h("button", { class: "ec-btn ec-btn-sm ec-btn-primary", type: "submit" }, "Save and sync");
    const form = h("form", { class: "mail-account-password" }, input, save);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.clear();
      save.disabled = true;
      save.replaceChildren(h("span", { class: "ec-spinner mail-spinner-inline" }), "Checking…");
      try {
        await api.updateAccount(a.id, { password: input.value });
        shell.toast(`${a.email} is signed in again`, { type: "success" });
        await refresh();
      } catch (err) {
        error.show(err.message);
        save.disabled = false;
        save.replaceChildren("Save and sync");
      }
    });
    return form;
  }

  // What would repair an account in error, by its errorCode: a refused sign-in takes a new
  // password (IMAP) or a new link (OAuth); a server that is down or timed out would refuse a good
  // password all the same, so it takes a Try again. Rows from before errorCode read as a refusal.
  const AUTH_ERRORS = new Set(["MAIL_AUTH_FAILED", "OAUTH_REAUTH_REQUIRED"]);
  const authError = (a) => !a.errorCode || AUTH_ERRORS.has(a.errorCode);

  function tryAgainButton(a) {
    const btn = h("button", { class: "ec-btn ec-btn-sm ec-btn-primary", type: "button", "aria-label": `Try again to sync ${a.email}` },
      icon("refresh"), "Try again");
    btn.addEventListener("click", () => syncNow(a, btn));
    return btn;
  }

  function accountRow(a) {
    const [label, tagClass] = STATUS[a.status] || [a.status, ""];
    const retry = a.status === "error" && !authError(a); // a server down: no password to ask for
    const fetched = a.progress?.fetched;
    const info = a.status === "syncing"
      ? `Syncing${fetched && !a.syncProgress ? `… ${fetched} messages so far` : "…"}` // a first sync has its bar
      : a.lastSyncAt ? `Last sync ${ago(a.lastSyncAt)}` : "Not synced yet";
    const syncBtn = h("button", { class: "ec-btn ec-btn-sm", type: "button", disabled: a.status === "syncing" }, icon("refresh"), "Sync now");
    syncBtn.addEventListener("click", () => syncNow(a, syncBtn));
    const resyncBtn = h("button", { class: "ec-btn ec-btn-sm", type: "button", disabled: a.status === "syncing",
      "aria-label": `Re-sync ${a.email}` }, icon("refresh"), "Re-sync");
    resyncBtn.addEventListener("click", () => resync(a, resyncBtn));
    return h("li", { class: "mail-account", "data-account-id": a.id },
      h("span", { class: "mail-account-logo" }, icon(a.provider === "imap" ? "server" : a.provider)),
      h("div", { class: "mail-account-main" },
        h("div", { class: "mail-account-name" }, h("strong", {}, a.email),
          h("span", { class: `mail-tag ${tagClass}`, "data-status": a.status }, label)),
        h("div", { class: "ec-muted mail-account-info" },
          [a.displayName, PROVIDERS[a.provider] || a.provider, info].filter(Boolean).join(" · "),
          a.parsePending ? ` · indexing ${a.parsePending}` : ""),
        a.syncProgress && syncBar({ ...a.syncProgress, pending: (a.syncProgress.bodiesPending || 0) + (a.syncProgress.indexPending || 0) },
          { label: `Sync progress of ${a.email}`, title: "First sync" }),
        a.status === "error" && a.error && h("div", { class: "mail-account-error", role: "alert" }, icon("alert"), h("span", {}, a.error)),
        a.status === "error" && a.provider === "imap" && authError(a) && passwordForm(a)),
      h("div", { class: "mail-account-actions" },
        retry && tryAgainButton(a),
        a.status === "error" && a.provider !== "imap" && authError(a) && h("button", {
          class: "ec-btn ec-btn-sm ec-btn-primary", type: "button", onclick: () => linkOAuth(a.provider, a.id),
        }, icon("link"), "Re-link"),
        !retry && syncBtn, // Try again is this account's Sync now
        resyncBtn,
        h("button", { class: "ec-btn ec-btn-sm ec-btn-danger", type: "button", onclick: () => remove(a), "aria-label": `Delete ${a.email}` },
          icon("trash"), "Delete")));
  }

  function listView() {
    return [
      accounts.length
        ? h("ul", { class: "mail-account-list", "aria-label": "Linked accounts" }, accounts.map(accountRow))
        : emptyState("No account linked yet", "Link a Google, Microsoft or any IMAP/SMTP mailbox to read and send its mail here."),
      waiting && h("div", { class: "mail-waiting", role: "status" }, h("span", { class: "ec-spinner" }),
        h("span", {}, `Finish signing in with ${waiting} in the pop-up window. It closes itself when the first sync is done.`)),
      h("div", { class: "mail-form-actions" },
        h("button", { class: "ec-btn ec-btn-primary", type: "button", onclick: () => { mode = "choose"; paint(); } }, icon("plus"), "Link account")),
      identitiesSetting(app, accounts),
      undoSetting(app),
      webhooksSetting(app),
    ];
  }

  function chooseView() {
    const card = (provider, title, hint) => h("button", {
      class: "mail-provider", type: "button",
      onclick: () => (provider === "imap" ? (mode = "imap", paint()) : linkOAuth(provider)),
    }, h("span", { class: "mail-provider-logo" }, icon(provider === "imap" ? "server" : provider)),
    h("span", { class: "mail-provider-text" }, h("strong", {}, title), h("small", { class: "ec-muted" }, hint)));
    const sinceInput = h("input", { class: "ec-input", type: "date", id: "mail-oauth-since", value: since,
      max: new Date().toISOString().slice(0, 10), oninput: (e) => { since = e.target.value; } });
    return [
      h("div", { class: "mail-form-item mail-oauth-since" },
        h("label", { for: "mail-oauth-since" }, "Sync mail since"), sinceInput,
        h("small", { class: "ec-muted" }, "For Google and Microsoft. Leave empty to sync all of it; the IMAP/SMTP form has its own.")),
      h("p", { class: "ec-muted mail-choose-hint" }, "Which kind of account?"),
      h("div", { class: "mail-providers" },
        card("google", "Google", "Gmail and Google Workspace"),
        card("microsoft", "Microsoft", "Outlook.com and Microsoft 365"),
        card("imap", "IMAP/SMTP", "Any other mail server")),
      h("div", { class: "mail-form-actions" },
        h("button", { class: "ec-btn", type: "button", onclick: () => { mode = "list"; paint(); } }, icon("arrow-left"), "Back")),
    ];
  }

  function paint() {
    modal.setTitle({ list: "Account settings", choose: "Link account", imap: "Link an IMAP/SMTP account" }[mode]);
    if (mode === "imap") {
      const form = imapForm({
        api,
        onDone: (account) => { shell.toast(`${account.email} is linked; its mail is syncing`, { type: "success" }); mode = "list"; refresh(); app.reloadAll(); },
        onCancel: () => { mode = "choose"; paint(); },
      });
      view.replaceChildren(form.el);
      form.focus();
      return;
    }
    view.replaceChildren(...[].concat(mode === "choose" ? chooseView() : listView()).filter(Boolean));
  }

  paint();
  refresh();
  return modal;
}
