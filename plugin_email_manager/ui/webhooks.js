// "Webhooks" in the settings dialog: the person's webhooks (URL, events, on/off), add, edit,
// delete, "Send test", and each one's last deliveries with their status and the receiver's
// answer. Built with h() only: no HTML strings, no inline styles (the page's CSP).
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { ago } from "./format.js";

export const EVENTS = ["messageNew", "messageUpdated", "messageDeleted", "messageSent", "messageFailed", "accountError"];
const STATUS = { ok: ["Delivered", "mail-tag-green"], retrying: ["Retrying", "mail-tag-blue"], failed: ["Failed", "mail-tag-red"] };

function webhookApi(api) {
  return {
    list: () => api.get("mailWebhooks:list", { paginate: false, sort: "id" }).then((r) => r.data || []),
    create: (values) => api.post("mailWebhooks:create", values).then((r) => r.data),
    update: (id, values) => api.post("mailWebhooks:update", values, { params: { filterByTk: id } }).then((r) => r.data),
    destroy: (id) => api.post("mailWebhooks:destroy", { filterByTk: id }),
    test: (id) => api.post("mailWebhooks:test", { filterByTk: id }).then((r) => r.data),
    deliveries: (id) => api.get("mailWebhookDeliveries:list", { filter: { webhookId: id }, sort: "-id", pageSize: 10 })
      .then((r) => r.data || []),
  };
}

/** The section; `app.shell` gives the API, toasts and confirmations. */
export function webhooksSetting(app) {
  const { shell } = app;
  const api = webhookApi(shell.api);
  const body = h("div", { class: "mail-webhooks-body" });
  const note = h("p", { class: "ec-muted mail-webhooks-note", role: "status" });
  const section = h("section", { class: "mail-webhooks", "aria-label": "Webhooks" },
    h("div", { class: "mail-webhooks-head" },
      h("h3", { class: "mail-side-title" }, "Webhooks"),
      h("button", { class: "ec-btn ec-btn-sm", type: "button", onclick: () => edit(null) }, icon("plus"), "Add webhook")),
    h("p", { class: "ec-muted mail-webhooks-hint" },
      "Each event of your accounts is POSTed as JSON to these addresses, signed in X-Email-Center-Signature with the secret."),
    note, body);
  let hooks = [];
  const open = new Set(); // webhooks whose deliveries are shown

  async function load() {
    try {
      hooks = await api.list();
      note.textContent = "";
      paint();
    } catch (err) {
      note.textContent = err.message || "Could not load the webhooks.";
    }
  }

  function paint() {
    body.replaceChildren(hooks.length
      ? h("ul", { class: "mail-webhook-list", "aria-label": "Webhooks" }, hooks.map(row))
      : h("p", { class: "ec-muted" }, "No webhook yet."));
  }

  function row(w) {
    const deliveries = h("div", { class: "mail-webhook-deliveries" });
    if (open.has(w.id)) showDeliveries(w, deliveries);
    const kinds = (w.events || []).length ? w.events.join(", ") : "every event";
    return h("li", { class: "mail-webhook", dataset: { id: w.id } },
      h("div", { class: "mail-webhook-main" },
        h("div", { class: "mail-webhook-text" },
          h("strong", { class: "mail-webhook-url" }, w.url),
          h("small", { class: "ec-muted" }, `${w.enabled ? "On" : "Off"} · ${kinds}`)),
        h("div", { class: "mail-webhook-actions" },
          h("button", { class: "ec-btn ec-btn-sm", type: "button", onclick: () => test(w, deliveries) }, icon("send"), "Send test"),
          h("button", { class: "ec-btn ec-btn-sm", type: "button", "aria-expanded": open.has(w.id) ? "true" : "false",
            onclick: (e) => toggle(w, deliveries, e.currentTarget) }, "Deliveries"),
          h("button", { class: "ec-btn ec-btn-sm", type: "button", onclick: () => edit(w) }, "Edit"),
          h("button", { class: "ec-btn ec-btn-sm ec-btn-danger", type: "button", onclick: () => remove(w), "aria-label": `Delete ${w.url}` },
            icon("trash"), "Delete"))),
      deliveries);
  }

  async function showDeliveries(w, box) {
    try {
      const rows = await api.deliveries(w.id);
      box.replaceChildren(rows.length
        ? h("table", { class: "mail-webhook-log" },
          h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Answer", "When"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows.map((d) => {
            const [label, tag] = STATUS[d.status] || [d.status, ""];
            const answer = d.error || (d.responseStatus ? `${d.responseStatus} ${d.response || ""}`.trim() : "");
            return h("tr", { class: "mail-webhook-delivery" },
              h("td", {}, d.event), h("td", {}, h("span", { class: `mail-tag ${tag}` }, label)),
              h("td", {}, String(d.attempts ?? 0)), h("td", { class: "mail-webhook-answer", title: answer }, answer),
              h("td", {}, d.createdAt ? ago(d.createdAt) : ""));
          })))
        : h("p", { class: "ec-muted" }, "Nothing delivered yet."));
    } catch (err) {
      box.replaceChildren(h("p", { class: "ec-muted" }, err.message || "Could not load the deliveries."));
    }
  }

  function toggle(w, box, button) {
    if (open.has(w.id)) { open.delete(w.id); box.replaceChildren(); button.setAttribute("aria-expanded", "false"); return; }
    open.add(w.id);
    button.setAttribute("aria-expanded", "true");
    showDeliveries(w, box);
  }

  async function test(w, box) {
    try {
      await api.test(w.id);
      shell.toast("Test event sent", { type: "success" });
      open.add(w.id);
      for (const wait of [600, 1500, 3000, 6000]) setTimeout(() => box.isConnected && showDeliveries(w, box), wait);
      showDeliveries(w, box);
    } catch (err) {
      shell.toast(err.message || "The test could not be sent", { type: "error" });
    }
  }

  async function remove(w) {
    const ok = await shell.confirm(`Events will no longer be sent to “${w.url}”.`, { title: "Delete this webhook?", okText: "Delete", danger: true });
    if (!ok) return;
    try { await api.destroy(w.id); open.delete(w.id); load(); } catch (err) { note.textContent = err.message; }
  }

  function edit(w) {
    const url = h("input", { class: "ec-input", type: "url", name: "url", required: true, placeholder: "https://example.com/hooks/mail",
      value: w?.url || "", "aria-label": "URL" });
    const secret = h("input", { class: "ec-input", type: "password", name: "secret", autocomplete: "new-password",
      placeholder: w ? "Unchanged" : "A long random string", "aria-label": "Secret" });
    const enabled = h("input", { type: "checkbox", name: "enabled", checked: w ? !!w.enabled : true });
    const chosen = new Set(w?.events || ["messageNew"]);
    const boxes = EVENTS.map((e) => h("label", { class: "mail-check" },
      h("input", { type: "checkbox", name: "events", value: e, checked: chosen.has(e) }), h("span", {}, e)));
    const error = h("p", { class: "mail-webhook-error", role: "alert" });
    const form = h("form", { class: "mail-webhook-form", "aria-label": w ? "Edit webhook" : "Add webhook" },
      h("label", { class: "mail-form-item" }, h("span", {}, "URL"), url),
      h("label", { class: "mail-form-item" }, h("span", {}, "Secret"), secret),
      h("fieldset", { class: "mail-fieldset mail-webhook-events" }, h("legend", {}, "Events"), boxes),
      h("label", { class: "mail-check" }, enabled, h("span", {}, "On")),
      error,
      h("div", { class: "mail-form-actions" },
        h("button", { class: "ec-btn", type: "button", onclick: () => paint() }, "Cancel"),
        h("button", { class: "ec-btn ec-btn-primary", type: "submit" }, w ? "Save" : "Add webhook")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = { url: url.value.trim(), enabled: enabled.checked,
        events: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value) };
      if (secret.value) values.secret = secret.value;
      try {
        if (w) await api.update(w.id, values); else await api.create(values);
        shell.toast(w ? "Webhook saved" : "Webhook added", { type: "success" });
        load();
      } catch (err) {
        error.textContent = err.message || "Not saved";
      }
    });
    body.replaceChildren(form);
    url.focus();
  }

  load();
  return section;
}
