// "Link account" → IMAP/SMTP: servers and credentials, checked by the server (both logins) before
// anything is stored; its refusal (MAIL_AUTH_FAILED naming the server, an unreachable host, a
// bad field) is shown above the form, and the field it names is marked.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { alertBox } from "./modal.js";

const PORTS = { imap: { tls: 993, starttls: 143, none: 143 }, smtp: { tls: 465, starttls: 587, none: 25 } };
const SECURITY = [["tls", "SSL/TLS"], ["starttls", "STARTTLS"], ["none", "None"]];

function field(label, input, hint = null) {
  input.id ||= `mail-f-${Math.random().toString(36).slice(2, 8)}`;
  return h("div", { class: "mail-form-item" }, h("label", { for: input.id }, label), input, hint && h("small", { class: "ec-muted" }, hint));
}

/** The form; `onDone(account)` after the server stored it, `onCancel()` for Back. */
export function imapForm({ api, onDone, onCancel }) {
  const error = alertBox("error");
  const input = (name, attrs = {}) => h("input", { class: "ec-input", name, ...attrs });
  const f = {
    email: input("email", { type: "email", required: true, autocomplete: "off", placeholder: "you@example.com" }),
    displayName: input("displayName", { type: "text", autocomplete: "off", placeholder: "Your name" }),
    username: input("username", { type: "text", autocomplete: "off", placeholder: "Same as the email address" }),
    password: input("password", { type: "password", required: true, autocomplete: "new-password" }),
    imapHost: input("imapHost", { type: "text", required: true, "aria-label": "IMAP server", placeholder: "imap.example.com" }),
    imapPort: input("imapPort", { type: "number", min: 1, max: 65535, required: true, value: 993, "aria-label": "IMAP port" }),
    imapSecurity: h("select", { class: "ec-select", name: "imapSecurity", "aria-label": "IMAP security" },
      SECURITY.map(([v, t]) => h("option", { value: v }, t))),
    smtpHost: input("smtpHost", { type: "text", required: true, "aria-label": "SMTP server", placeholder: "smtp.example.com" }),
    smtpPort: input("smtpPort", { type: "number", min: 1, max: 65535, required: true, value: 465, "aria-label": "SMTP port" }),
    smtpSecurity: h("select", { class: "ec-select", name: "smtpSecurity", "aria-label": "SMTP security" },
      SECURITY.map(([v, t]) => h("option", { value: v }, t))),
    syncSince: input("syncSince", { type: "date" }),
    appendSent: h("input", { type: "checkbox", name: "appendSent", checked: true }),
  };
  // a port still at the default of the old security follows the new one
  for (const kind of ["imap", "smtp"]) {
    const sec = f[`${kind}Security`];
    const port = f[`${kind}Port`];
    let before = sec.value;
    sec.addEventListener("change", () => {
      if (Number(port.value) === PORTS[kind][before] || !port.value) port.value = PORTS[kind][sec.value];
      before = sec.value;
    });
  }
  f.email.addEventListener("input", () => {
    const domain = f.email.value.split("@")[1] || "example.com";
    f.imapHost.placeholder = `imap.${domain}`;
    f.smtpHost.placeholder = `smtp.${domain}`;
  });

  const submit = h("button", { class: "ec-btn ec-btn-primary", type: "submit" }, "Link account");
  const server = (kind, title) => h("fieldset", { class: "mail-fieldset" }, h("legend", {}, title),
    h("div", { class: "mail-form-row" },
      h("div", { class: "mail-form-item mail-grow" }, h("label", { for: `mail-${kind}-host` }, "Server"), Object.assign(f[`${kind}Host`], { id: `mail-${kind}-host` })),
      h("div", { class: "mail-form-item mail-port" }, h("label", { for: `mail-${kind}-port` }, "Port"), Object.assign(f[`${kind}Port`], { id: `mail-${kind}-port` })),
      h("div", { class: "mail-form-item mail-sec" }, h("label", { for: `mail-${kind}-sec` }, "Security"), Object.assign(f[`${kind}Security`], { id: `mail-${kind}-sec` }))));

  const form = h("form", { class: "mail-imap-form", novalidate: true },
    error,
    h("div", { class: "mail-form-row" },
      h("div", { class: "mail-grow" }, field("Email address", f.email)),
      h("div", { class: "mail-grow" }, field("Display name", f.displayName))),
    h("div", { class: "mail-form-row" },
      h("div", { class: "mail-grow" }, field("Username", f.username)),
      h("div", { class: "mail-grow" }, field("Password", f.password))),
    server("imap", "Incoming mail (IMAP)"),
    server("smtp", "Outgoing mail (SMTP)"),
    h("div", { class: "mail-form-row mail-form-row-end" },
      h("div", { class: "mail-grow" }, field("Sync mail since", f.syncSince, "Leave empty to sync all of it.")),
      h("label", { class: "mail-check mail-grow" }, f.appendSent, h("span", {}, "Save sent mail in the Sent folder"))),
    h("div", { class: "mail-form-actions" },
      h("button", { class: "ec-btn", type: "button", onclick: onCancel }, icon("arrow-left"), "Back"), submit));

  const mark = (name) => {
    Object.values(f).forEach((el) => el.removeAttribute("aria-invalid"));
    if (name && f[name]) { f[name].setAttribute("aria-invalid", "true"); f[name].focus(); }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.clear();
    mark(null);
    const missing = ["email", "password", "imapHost", "imapPort", "smtpHost", "smtpPort"].find((k) => !String(f[k].value).trim());
    if (missing) {
      const label = { email: "the email address", password: "the password", imapHost: "the IMAP server", imapPort: "the IMAP port",
        smtpHost: "the SMTP server", smtpPort: "the SMTP port" }[missing];
      error.show(`Please enter ${label}.`);
      mark(missing);
      return;
    }
    const values = {
      provider: "imap", email: f.email.value.trim(), password: f.password.value,
      username: f.username.value.trim() || f.email.value.trim(),
      imapHost: f.imapHost.value.trim(), imapPort: Number(f.imapPort.value), imapSecurity: f.imapSecurity.value,
      smtpHost: f.smtpHost.value.trim(), smtpPort: Number(f.smtpPort.value), smtpSecurity: f.smtpSecurity.value,
      appendSent: f.appendSent.checked,
    };
    if (f.displayName.value.trim()) values.displayName = f.displayName.value.trim();
    if (f.syncSince.value) values.syncSince = f.syncSince.value;
    submit.disabled = true;
    submit.replaceChildren(h("span", { class: "ec-spinner" }), "Checking the servers…");
    form.setAttribute("aria-busy", "true");
    try {
      onDone(await api.createAccount(values));
    } catch (err) {
      error.show(err.message || "The account could not be linked.");
      const named = err.detail?.field || (err.detail?.server === "imap" ? "imapHost" : err.detail?.server === "smtp" ? "smtpHost" : null);
      if (err.code === "MAIL_AUTH_FAILED") mark("password"); else mark(named);
    } finally {
      submit.disabled = false;
      submit.replaceChildren("Link account");
      form.removeAttribute("aria-busy");
    }
  });
  return { el: form, focus: () => f.email.focus() };
}
