// The reader: one conversation as a list of its messages (oldest first, the newest open), each
// expanding and collapsing, with its header, body, attachments and a "…" menu; Reply, Reply all
// and Forward at the bottom. Opening it marks the whole conversation read. Beside it (below it
// on a narrow screen), the panel of labels.js: labels, to-do and notes.
// In All mail (app.readOnly: a manager reading another person's mail) it changes nothing: no
// reply, forward, delete, move, mark nor label controls, opening marks nothing read, and it says
// whose mail it is (accountEmail).
import { emptyState, errorState, h, loadingState } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { LabelsPanel } from "./labels.js";
import { labelChips } from "./label-chips.js";
import { TYPE_TITLES, addressText, displayName, fullDate, listDate, size } from "./format.js";
import { htmlFrame, textBody } from "./frame.js";
import { openedFromHere } from "./state.js";

const AVATAR_COLOURS = ["#1677ff", "#13c2c2", "#52c41a", "#fa8c16", "#eb2f96", "#722ed1", "#2f54eb", "#faad14"];

function avatar(addr) {
  const key = String(addr?.address || "?").toLowerCase();
  let n = 0;
  for (const c of key) n = (n * 31 + c.charCodeAt(0)) >>> 0;
  const letter = (addr?.name || addr?.address || "?").trim().charAt(0).toUpperCase();
  return h("span", { class: "mail-avatar", style: { background: AVATAR_COLOURS[n % AVATAR_COLOURS.length] }, "aria-hidden": "true" }, letter);
}

/** "To-do", with its due day when it has one ("To-do · due Dec 24"). */
function todoTag(m) {
  const due = /^\d{4}-\d{2}-\d{2}$/.test(m.todoDue || "")
    ? new Date(`${m.todoDue}T00:00:00`).toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric" }) : "";
  return h("span", { class: "mail-type-tag mail-todo-tag", title: due ? `To do by ${due}` : "To do" }, due ? `To-do · due ${due}` : "To-do");
}

function attachmentIcon(type = "") {
  if (type.startsWith("image/")) return "image";
  return "file";
}

export class ReaderView {
  constructor(app) {
    this.app = app;
    this.el = h("section", { class: "mail-reader ec-card", "aria-label": "Conversation" });
    this.messages = [];
    this.open = new Set();
    this.frames = new Map(); // message id → its body frame
    this.remoteShown = new Set();
    this.details = new Set(); // messages whose full header is shown
    this.threadId = null;
    this.seq = 0;
    this.panel = new LabelsPanel(app);
  }

  destroy() { this.frames.forEach((f) => f.destroy()); this.frames.clear(); }

  newest() { return this.messages[this.messages.length - 1]; }

  /** Back (the button, Escape, "u"): to the page the conversation was opened from when its URL
   * names one (`from`, a record's Emails tab: state.js keeps it to this site's admin), else to
   * the list. A step back in history when that page is the entry before (load tags the entry),
   * so nothing is added. */
  back() {
    const from = this.app.from;
    if (!from) this.app.backToList();
    else if (history.state?.backTo === from) history.back();
    else this.app.shell.navigate(from);
  }

  /** What Reply / Reply all / Forward at the bottom answer: the newest message someone else sent. */
  replyTarget() {
    const received = this.messages.filter((m) => m.type !== "sent" && m.type !== "drafts");
    return received[received.length - 1] || this.newest();
  }

  /** Open a conversation; `quiet` reloads the open one in place (after a reply was sent). */
  async load(threadId, { quiet = false } = {}) {
    const seq = ++this.seq;
    const again = quiet && threadId === this.threadId && this.messages.length;
    this.threadId = threadId;
    if (!again && openedFromHere(this.app.from)) history.replaceState({ ...history.state, backTo: this.app.from }, "");
    if (!again) {
      this.destroy();
      this.messages = []; // nothing to answer or delete until this conversation is here
      this.el.replaceChildren(this.topBar(), loadingState("Opening the conversation…"));
    }
    let messages;
    try {
      messages = await this.app.api.thread(threadId, { signal: this.app.signal });
    } catch (err) {
      if (err.name === "AbortError" || seq !== this.seq) return;
      this.el.replaceChildren(this.topBar(), err.status === 404
        ? emptyState("This conversation is gone", "It was deleted, or its account was removed.",
          h("button", { class: "ec-btn", type: "button", onclick: () => this.back() }, icon("arrow-left"), this.app.from ? "Back" : "Back to the list"))
        : errorState(err, () => this.load(threadId)));
      return;
    }
    if (seq !== this.seq) return;
    this.messages = messages || [];
    const newest = this.newest();
    if (!again) {
      this.open = new Set();
      this.remoteShown.clear();
      this.details = new Set();
    }
    if (newest) this.open.add(newest.id);
    // opening reads the whole conversation: shown read at once, told to the server meanwhile
    // (not someone else's, read in All mail: that would be a write)
    const unread = this.app.readOnly ? [] : this.messages.filter((m) => !m.read);
    unread.forEach((m) => { m.read = true; });
    this.render();
    this.panel.show(this.messages);
    if (unread.length) {
      try {
        await this.app.api.markRead(unread.map((m) => m.id));
        this.app.readStateChanged();
      } catch (err) {
        unread.forEach((m) => { m.read = false; });
        if (seq === this.seq) this.render();
        this.app.shell.toast(`Could not mark as read: ${err.message}`, { type: "error" });
      }
    }
  }

  topBar() {
    const list = this.app.list;
    const index = list.rows.findIndex((r) => r.threadId === this.threadId);
    const nav = (delta, label, iconName) => h("button", {
      class: "ec-btn ec-btn-text ec-btn-icon", type: "button", "aria-label": label, title: label,
      disabled: index < 0 || !list.rows[index + delta], onclick: () => this.app.step(delta),
    }, icon(iconName));
    return h("div", { class: "mail-reader-bar", role: "toolbar", "aria-label": "Conversation actions" },
      h("button", { class: "ec-btn ec-btn-text mail-back", type: "button", onclick: () => this.back() },
        icon("arrow-left"), h("span", {}, "Back")),
      !this.app.readOnly && [h("span", { class: "mail-toolbar-sep" }),
        h("button", { class: "ec-btn ec-btn-text", type: "button", disabled: !this.messages.length,
          onclick: () => this.markUnread(this.messages.map((m) => m.id)) }, icon("mail"), h("span", { class: "mail-btn-label" }, "Mark as unread")),
        h("button", { class: "ec-btn ec-btn-text", type: "button", disabled: !this.messages.length,
          onclick: () => this.app.moveThread(this.messages) }, icon("folder"), h("span", { class: "mail-btn-label" }, "Move to…")),
        h("button", { class: "ec-btn ec-btn-text", type: "button", disabled: !this.messages.length,
          onclick: () => this.app.deleteThread(this.threadId, this.messages) }, icon("trash"), h("span", { class: "mail-btn-label" }, "Delete"))],
      h("span", { class: "mail-toolbar-spacer" }),
      index >= 0 && h("span", { class: "ec-muted mail-reader-pos" }, `${list.meta.pageSize * (list.meta.page - 1) + index + 1} of ${list.meta.count}`),
      nav(-1, "Newer conversation", "chevron-left"), nav(1, "Older conversation", "chevron-right"));
  }

  /** The flag (reaches the server) or the to-do mark (kept here) of one message. */
  async setMarks(m, values) {
    try {
      Object.assign(m, await this.app.api.updateMessage(m.id, values));
      this.repaint(m.id);
      this.panel.render();
      this.app.readStateChanged();
    } catch (err) {
      this.app.shell.toast(err.message, { type: "error" });
    }
  }

  async markUnread(ids) {
    try {
      await this.app.api.markUnread(ids);
      ids.forEach((id) => { const m = this.messages.find((x) => x.id === id); if (m) m.read = false; });
      this.app.shell.toast(ids.length > 1 ? "Conversation marked as unread" : "Marked as unread", { type: "success" });
      this.app.readStateChanged();
      ids.forEach((id) => this.repaint(id));
    } catch (err) {
      this.app.shell.toast(err.message, { type: "error" });
    }
  }

  toggle(id) {
    if (this.open.has(id)) this.open.delete(id); else this.open.add(id);
    this.repaint(id);
  }

  /** Draw one message again (its frame too), leaving the others as they are. */
  repaint(id) {
    const m = this.messages.find((x) => x.id === id);
    const old = this.el.querySelector(`.mail-message[data-message-id="${id}"]`);
    if (!m || !old) { this.render(); return; }
    this.frames.get(id)?.destroy();
    this.frames.delete(id);
    const li = this.message(m);
    old.replaceWith(li);
    requestAnimationFrame(() => this.frames.get(id)?.measure());
    li.querySelector(".mail-message-head")?.focus({ preventScroll: true });
  }

  menu(m) {
    const items = [
      ["Reply", "reply", () => this.app.reply(m.id, false)],
      ["Reply all", "reply-all", () => this.app.reply(m.id, true)],
      ["Forward", "forward", () => this.app.forward(m.id)],
      ["Mark as unread", "mail", () => this.markUnread([m.id])],
      [m.flagged ? "Remove the flag" : "Flag", "star", () => this.setMarks(m, { flagged: !m.flagged })],
      [m.todo ? "Remove from to-do" : "Add to to-do", "check", () => this.setMarks(m, { todo: !m.todo })],
      ["Move to…", "folder", () => this.app.moveMessage(m)],
      ["Delete this message", "trash", () => this.app.deleteMessages([m])],
    ];
    const drop = h("div", { class: "ec-dropdown mail-menu", role: "menu", hidden: true },
      items.map(([label, iconName, fn]) => h("button", {
        class: "ec-dropdown-item", type: "button", role: "menuitem",
        onclick: (e) => { e.stopPropagation(); close(); fn(); },
      }, icon(iconName), label)));
    const btn = h("button", {
      class: "ec-btn ec-btn-text ec-btn-icon mail-more", type: "button", "aria-label": "More actions", "aria-haspopup": "menu",
      "aria-expanded": "false", title: "More",
      onclick: (e) => { e.stopPropagation(); if (drop.hidden) openMenu(); else close(); },
    }, icon("more-horizontal"));
    const outside = (e) => { if (!drop.contains(e.target)) close(); };
    const onKey = (e) => { if (e.key === "Escape") { e.stopPropagation(); close(); btn.focus(); } };
    function openMenu() {
      drop.hidden = false;
      btn.setAttribute("aria-expanded", "true");
      document.addEventListener("click", outside, true);
      drop.addEventListener("keydown", onKey);
      drop.querySelector("button")?.focus();
    }
    function close() {
      drop.hidden = true;
      btn.setAttribute("aria-expanded", "false");
      document.removeEventListener("click", outside, true);
    }
    return h("div", { class: "mail-menu-wrap" }, btn, drop);
  }

  message(m) {
    const open = this.open.has(m.id);
    const own = this.app.ownAddresses();
    const recipients = [...(m.to || []), ...(m.cc || [])];
    const head = h("div", {
      class: "mail-message-head", role: "button", tabindex: "0", "aria-expanded": String(open),
      "aria-label": `${open ? "Collapse" : "Expand"} message from ${displayName(m.from) || "unknown sender"}`,
      onclick: (e) => { if (!e.target.closest(".mail-menu-wrap, a")) this.toggle(m.id); },
      onkeydown: (e) => { if ((e.key === "Enter" || e.key === " ") && e.target === e.currentTarget) { e.preventDefault(); this.toggle(m.id); } },
    },
    avatar(m.from),
    h("div", { class: "mail-message-who" },
      h("div", { class: "mail-message-from" },
        h("strong", {}, displayName(m.from, own) || "(no sender)"),
        m.from?.address && m.from?.name && h("span", { class: "ec-muted mail-message-address" }, `<${m.from.address}>`),
        !m.read && h("span", { class: "mail-unread-dot", title: "Unread", "aria-label": "Unread" }),
        m.type && m.type !== "inbox" && h("span", { class: `mail-type-tag mail-type-${m.type}` }, TYPE_TITLES[m.type] || m.type),
        m.flagged && h("span", { class: "mail-flag-mark", title: "Flagged", "aria-label": "Flagged" }, icon("star")),
        m.todo && todoTag(m)),
      open
        ? h("div", { class: "mail-message-to ec-muted" }, h("span", {}, "to ", recipients.length ? recipients.map((a) => displayName(a, own)).join(", ") : "undisclosed recipients"),
          h("button", {
            class: "mail-details-btn", type: "button", "aria-expanded": String(this.details.has(m.id)),
            "aria-label": this.details.has(m.id) ? "Hide details" : "Show details", title: "Details",
            onclick: (e) => { e.stopPropagation(); if (this.details.has(m.id)) this.details.delete(m.id); else this.details.add(m.id); this.repaint(m.id); },
          }, icon("chevron-down")))
        : h("div", { class: "mail-message-snippet ec-muted" }, m.snippet || (m.text || "").slice(0, 160))),
    h("div", { class: "mail-message-side" },
      m.hasAttachments && h("span", { class: "ec-muted", "aria-label": "Has attachments", title: "Has attachments" }, icon("paperclip")),
      h("time", { class: "ec-muted mail-message-date", datetime: m.date || "", title: fullDate(m.date) }, open ? fullDate(m.date) : listDate(m.date)),
      open && !this.app.readOnly && this.menu(m)));
    const li = h("li", { class: `mail-message${open ? " is-open" : ""}`, "data-message-id": m.id }, head);
    if (open) li.append(this.body(m));
    return li;
  }

  detailsBlock(m) {
    const row = (label, list) => list && list.length
      ? h("div", { class: "mail-detail" }, h("span", { class: "mail-detail-label" }, label), h("span", {}, list.map(addressText).join(", ")))
      : null;
    return h("div", { class: "mail-details ec-muted" },
      row("From", m.from ? [m.from] : []), row("To", m.to), row("Cc", m.cc), row("Bcc", m.bcc),
      h("div", { class: "mail-detail" }, h("span", { class: "mail-detail-label" }, "Date"), h("span", {}, fullDate(m.date))));
  }

  body(m) {
    const box = h("div", { class: "mail-message-body" }, this.details.has(m.id) && this.detailsBlock(m),
      m.type === "drafts" && !this.app.readOnly && h("div", { class: "mail-remote-bar mail-draft-bar", role: "status" }, icon("pencil"),
        h("span", {}, "This message is a draft."),
        h("button", { class: "ec-btn ec-btn-sm", type: "button", onclick: () => this.app.editDraft(m) }, "Continue editing")),
      m.deliveryFailure && h("div", { class: "mail-remote-bar mail-delivery-failure", role: "alert" }, icon("ban"),
        h("span", {}, `Delivery failed: ${m.deliveryFailure.text || [m.deliveryFailure.status, m.deliveryFailure.diagnostic].filter(Boolean).join(" ")}`)));
    if (m.html) {
      const shown = this.remoteShown.has(m.id);
      const frame = htmlFrame(m.html, { showRemote: shown, title: `Message from ${displayName(m.from) || "unknown sender"}` });
      this.frames.set(m.id, frame);
      const images = /\bdata-remote-src=/.test(m.html);
      if (m.hasRemoteContent && !images) {
        // only remote styles, which the server removed for good: nothing to show on request
        box.append(h("div", { class: "mail-remote-bar mail-remote-note", role: "status" }, icon("info"),
          h("span", {}, "Remote styles in this message were blocked to protect your privacy.")));
      } else if (m.hasRemoteContent && shown) {
        box.append(h("div", { class: "mail-remote-bar", role: "status" }, icon("eye"), h("span", {}, "Remote images are shown for this message.")));
      } else if (m.hasRemoteContent) {
        const bar = h("div", { class: "mail-remote-bar", role: "status" }, icon("image"),
          h("span", {}, "Remote images are hidden to protect your privacy."),
          h("button", { class: "ec-btn ec-btn-sm", type: "button", onclick: () => {
            this.remoteShown.add(m.id);
            frame.setHtml(m.html, { showRemote: true });
            bar.replaceChildren(icon("eye"), h("span", {}, "Remote images are shown for this message."));
          } }, "Show images"));
        box.append(bar);
      }
      box.append(frame.el);
    } else if (m.text) {
      box.append(textBody(m.text));
    } else if (m.parseState === "error" && m.parseError) {
      // a text the server would not hand out, or a body no decoder could read: say so, not "no text"
      box.append(h("p", { class: "ec-muted mail-unreadable", role: "note" }, m.parseError));
    } else {
      box.append(h("p", { class: "ec-muted" }, "(This message has no text.)"));
    }
    const files = (m.attachments || []).filter((a) => !a.inline || !a.contentId);
    if (files.length) {
      box.append(h("div", { class: "mail-attachments", "aria-label": "Attachments" },
        h("div", { class: "mail-attachments-title ec-muted" }, icon("paperclip"), `${files.length} attachment${files.length > 1 ? "s" : ""}`),
        h("ul", { class: "mail-attachment-list" }, files.map((a) => h("li", {},
          h("a", { class: "mail-attachment", href: `/api/mailAttachments:download?filterByTk=${a.id}`, download: a.filename || "attachment",
            title: `Download ${a.filename}` },
          h("span", { class: "mail-attachment-icon" }, icon(attachmentIcon(a.contentType))),
          h("span", { class: "mail-attachment-name" }, a.filename || "attachment"),
          h("span", { class: "mail-attachment-size ec-muted" }, size(a.size)),
          h("span", { class: "mail-attachment-dl" }, icon("download"))))))));
    }
    return box;
  }

  /** The subject with the conversation's labels and, in All mail, whose mail it is. */
  title() {
    const first = this.messages[0];
    const newest = this.newest();
    const subject = newest?.subject || first?.subject || "(no subject)";
    const labels = [...new Set(this.messages.flatMap((m) => (Array.isArray(m.labels) ? m.labels : [])))].sort();
    const owners = [...new Set(this.messages.map((m) => m.accountEmail).filter(Boolean))];
    return h("div", { class: "mail-reader-title" },
      h("h1", { class: "mail-reader-subject" }, subject),
      this.messages.length > 1 && h("span", { class: "mail-row-count" }, `${this.messages.length} messages`),
      labelChips(labels, this.panel.colours().size ? this.panel.colours() : this.app.labelDefs),
      this.app.readOnly && h("p", { class: "mail-readonly-note", role: "note" }, icon("lock"),
        h("span", {}, owners.length ? `Read only: the mail of ${owners.join(", ")}` : "Read only")));
  }

  /** The panel changed labels or the to-do mark: its chips, the title's and the heads' marks. */
  labelsChanged() {
    this.panel.render();
    this.el.querySelector(".mail-reader-title")?.replaceWith(this.title());
    this.messages.forEach((m) => { // each head's To-do tag, leaving the bodies (their frames) be
      const from = this.el.querySelector(`.mail-message[data-message-id="${m.id}"] .mail-message-from`);
      from?.querySelector(".mail-todo-tag")?.remove();
      if (from && m.todo) from.append(todoTag(m));
    });
  }

  render() {
    this.destroy();
    const target = this.replyTarget();
    this.el.replaceChildren(
      this.topBar(),
      h("div", { class: "mail-reader-grid" },
        h("div", { class: "mail-reader-content" },
          this.title(),
          h("ol", { class: "mail-messages" }, this.messages.map((m) => this.message(m))),
          target && !this.app.readOnly && h("div", { class: "mail-reader-actions" },
            h("button", { class: "ec-btn", type: "button", onclick: () => this.app.reply(target.id, false) }, icon("reply"), "Reply"),
            h("button", { class: "ec-btn", type: "button", onclick: () => this.app.reply(target.id, true) }, icon("reply-all"), "Reply all"),
            h("button", { class: "ec-btn", type: "button", onclick: () => this.app.forward(target.id) }, icon("forward"), "Forward"))),
        this.panel.el));
    // frames measure once they are laid out
    requestAnimationFrame(() => this.frames.forEach((f) => f.measure()));
  }
}
