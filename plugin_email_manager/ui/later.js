// Sending later: compose's "Send later" (presets and a date-time picker), the "Sending… Undo"
// toast of the undo window, the Scheduled view's row actions (Cancel, Edit; Send again or Make
// draft when a send was interrupted), and the "Undo send" setting. The server holds the message
// (mailMessages:send with sendAt, or the person's undoSendSeconds) and sends it then;
// mailMessages:cancelSend makes it a draft again (409 ALREADY_SENT once it went).
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";

const UNDO_CHOICES = [0, 5, 10, 20, 30];

/** The presets for now: in 1 hour, tomorrow 8:00, next Monday 8:00 (local time). */
export function presets(now = new Date()) {
  const at8 = (days) => { const d = new Date(now); d.setDate(d.getDate() + days); d.setHours(8, 0, 0, 0); return d; };
  const monday = (8 - now.getDay()) % 7 || 7; // the next Monday, a week on when today is one
  return [
    { label: "In 1 hour", at: new Date(now.getTime() + 3600e3) },
    { label: "Tomorrow 8:00", at: at8(1) },
    { label: "Monday 8:00", at: at8(monday) },
  ];
}

/** "Mon 12 May, 08:00" (the year when not this one). */
export function whenText(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString([], { weekday: "short", day: "numeric", month: "short", ...(sameYear ? {} : { year: "numeric" }),
    hour: "2-digit", minute: "2-digit" });
}

const localInput = (d) => {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

/**
 * The "Send later" button and its panel, for compose's footer. `onPick(date)` is called with the
 * chosen time (in the future); answers {el, button, setDisabled(on)}.
 */
export function sendLater({ onPick }) {
  const button = h("button", {
    class: "ec-btn mail-send-later", type: "button", "aria-haspopup": "dialog", "aria-expanded": "false",
    title: "Send later",
  }, icon("clock"), h("span", { class: "mail-btn-label" }, "Send later"));
  const error = h("div", { class: "mail-later-error", role: "alert" });
  const input = h("input", { class: "ec-input mail-later-input", type: "datetime-local", "aria-label": "Date and time" });
  const pick = (d) => {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) { error.textContent = "Choose a date and a time."; return; }
    if (d.getTime() <= Date.now() + 30e3) { error.textContent = "Choose a time in the future."; return; }
    close();
    onPick(d);
  };
  const panel = h("div", { class: "mail-later-panel", role: "dialog", "aria-label": "Send later", hidden: true },
    h("div", { class: "mail-later-title" }, "Send later"),
    h("div", { class: "mail-later-presets" }),
    h("label", { class: "mail-later-custom" }, h("span", {}, "Pick a date and time"), input),
    error,
    h("div", { class: "mail-later-actions" },
      h("button", { class: "ec-btn", type: "button", onclick: () => close() }, "Cancel"),
      h("button", { class: "ec-btn ec-btn-primary mail-later-schedule", type: "button",
        onclick: () => pick(input.value ? new Date(input.value) : null) }, "Schedule send")));
  const el = h("span", { class: "mail-later" }, button, panel);

  function open() {
    error.textContent = "";
    const now = new Date();
    panel.querySelector(".mail-later-presets").replaceChildren(...presets(now).map((p) => h("button", {
      class: "mail-later-preset", type: "button", onclick: () => pick(p.at),
    }, h("span", {}, p.label), h("span", { class: "ec-muted" }, whenText(p.at)))));
    input.min = localInput(now);
    if (!input.value) input.value = localInput(presets(now)[1].at);
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    panel.querySelector(".mail-later-preset")?.focus();
    document.addEventListener("pointerdown", outside, true);
  }
  function close() {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
  }
  function outside(e) { if (!el.contains(e.target)) close(); }
  button.addEventListener("click", () => (panel.hidden ? open() : close()));
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.stopPropagation(); e.preventDefault(); close(); button.focus(); }
  });
  return { el, button, setDisabled: (on) => { button.disabled = on; if (on) close(); } };
}

/** A draft as compose takes it (the message as mailMessages:get answers it). */
function draftOf(m) {
  const text = (m.text || "").replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c])).replace(/\n/g, "<br>");
  return { accountId: m.accountId, to: m.to || [], cc: m.cc || [], bcc: m.bcc || [], subject: m.subject || "",
    html: m.html || `<div>${text}</div>`, draftId: m.id };
}

/** cancelSend, then compose with the draft (Undo, and Edit in the Scheduled view). */
export async function backToCompose(app, id, { title = "Draft" } = {}) {
  const { openCompose } = await import("./compose.js"); // compose imports this module
  await app.api.cancelSend(id);
  app.afterSend();
  openCompose(app, { title, prepare: async () => draftOf(await app.api.message(id)) });
}

/**
 * After a send the server held (`data`: {id, status: "scheduled", sendAt}): a scheduled one is
 * confirmed; one held by the undo window gets "Sending… Undo" until it goes.
 */
export function afterHeld(app, data, { scheduled }) {
  const { shell } = app;
  if (scheduled) {
    shell.toast(`Scheduled for ${whenText(data.sendAt)}`, { type: "success" });
    return;
  }
  const ms = Math.max(1000, new Date(data.sendAt).getTime() - Date.now());
  let close = null;
  const undo = h("button", { class: "mail-undo-btn", type: "button", onclick: async () => {
    close?.();
    try {
      await backToCompose(app, data.id);
    } catch (err) {
      shell.toast(err.code === "ALREADY_SENT" ? "Too late: the message was sent." : err.message, { type: "error" });
    }
  } }, "Undo");
  close = shell.toast(h("span", { class: "mail-undo" }, h("span", {}, "Sending…"), undo), { type: "info", duration: ms });
  setTimeout(() => app.afterSend(), ms + 2500); // by then it went: Sent shows it
}

/** The Scheduled view's part of a row: when it goes, and what a person may do with it. */
export function scheduledBits(app, m) {
  const { shell } = app;
  const run = (fn) => async (e) => {
    e.preventDefault();
    e.currentTarget.disabled = true;
    try { await fn(); } catch (err) {
      shell.toast(err.code === "ALREADY_SENT" ? "Too late: the message was sent." : err.message, { type: "error" });
    }
    app.afterSend();
  };
  const btn = (label, fn, extra = "") => h("button", { class: `ec-btn ec-btn-sm ${extra}`, type: "button", onclick: run(fn) }, label);
  if (m.outbox === "unknown") {
    return h("div", { class: "mail-sched mail-sched-unknown", role: "group", "aria-label": "Interrupted send" },
      icon("alert"), h("span", { class: "mail-sched-when" }, "Interrupted while sending: it may have gone out"),
      btn("Send again", () => app.api.resend(m.id)),
      btn("Make draft", () => app.api.cancelSend(m.id)));
  }
  if (m.outbox === "sending") {
    return h("div", { class: "mail-sched" }, h("span", { class: "ec-spinner mail-spinner-inline" }),
      h("span", { class: "mail-sched-when" }, "Sending…"));
  }
  return h("div", { class: "mail-sched", role: "group", "aria-label": "Scheduled send" },
    icon("clock"), h("span", { class: "mail-sched-when" }, `Sends ${whenText(m.sendAt)}`),
    btn("Edit", () => backToCompose(app, m.id)),
    btn("Cancel", async () => { await app.api.cancelSend(m.id); shell.toast("Scheduled send cancelled: it is a draft now", { type: "success" }); },
      "mail-sched-cancel"));
}

/** "Undo send" in the settings dialog: how long every send waits, cancellable. */
export function undoSetting(app) {
  const select = h("select", { class: "ec-select mail-undo-select", "aria-label": "Undo send", disabled: true },
    UNDO_CHOICES.map((s) => h("option", { value: String(s) }, s ? `${s} seconds` : "Off")));
  const note = h("span", { class: "ec-muted mail-undo-note", role: "status" });
  app.api.userSettings().then((s) => {
    const v = Number(s?.undoSendSeconds || 0);
    if (!UNDO_CHOICES.includes(v)) select.append(h("option", { value: String(v) }, `${v} seconds`));
    select.value = String(v);
    select.disabled = false;
  }).catch(() => { note.textContent = "Could not load this setting."; });
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      await app.api.saveUserSettings({ undoSendSeconds: Number(select.value) });
      note.textContent = "Saved";
    } catch (err) {
      note.textContent = err.message || "Not saved";
    } finally {
      select.disabled = false;
    }
  });
  return h("section", { class: "mail-user-settings", "aria-label": "Sending" },
    h("h3", { class: "mail-side-title" }, "Sending"),
    h("label", { class: "mail-undo-row" }, h("span", {}, "Undo send"), select, note),
    h("p", { class: "ec-muted mail-undo-hint" }, "After Send, the message waits this long; Undo brings it back to the editor."));
}
