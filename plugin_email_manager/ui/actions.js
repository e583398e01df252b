// What a person does to mail from the list, the reader and the keyboard: read state, move, delete,
// reply, forward, write. Mixed into the page (mail.js), whose state (`this`) they use. In a
// manager's All mail (`this.readOnly`) every one of them does nothing: the server would answer 404
// for another's mail anyway, and no control that reaches them is shown.
import { h } from "/static/js/dom.js";
import { openCompose } from "./compose.js";
import { escapeHtml } from "./editor.js";
import { TYPE_TITLES } from "./format.js";
import { icon } from "./icons.js";
import { openModal } from "./modal.js";

// what "Move to…" offers for messages of several accounts (each moves within its own)
const MOVE_TYPES = ["inbox", "archive", "junk", "trash"];
const FOLDER_ICONS = { inbox: "inbox", archive: "archive", junk: "ban", trash: "trash", sent: "send", drafts: "pencil" };

/** A dialog of folders to move to; resolves the chosen one's value, or null when closed. */
function pickFolder(choices, count) {
  return new Promise((resolve) => {
    let chosen = null;
    const modal = openModal({
      title: "Move to…",
      width: 380,
      className: "mail-move-dialog",
      body: h("div", {},
        h("p", { class: "ec-muted" }, `${count} message${count > 1 ? "s" : ""}`),
        h("ul", { class: "mail-folder-choices", "aria-label": "Folders" }, choices.map((c) => h("li", {},
          h("button", {
            class: "ec-btn ec-btn-text mail-folder-choice", type: "button", disabled: c.here,
            title: c.here ? "Already there" : `Move to ${c.label}`,
            onclick: () => { chosen = c.value; modal.close(true); },
          }, icon(FOLDER_ICONS[c.type] || "folder"), h("span", {}, c.label)))))),
    });
    modal.closed.then(() => resolve(chosen));
  });
}

/** Of a conversation's messages, those "Move to…" moves: those of the folder shown, else the mail
 * received (a sent copy stays in Sent), else all but a scheduled send. */
function movable(messages, folder) {
  const here = messages.filter((m) => m.type === folder);
  if (here.length) return here;
  const received = messages.filter((m) => !["sent", "drafts", "scheduled"].includes(m.type));
  return received.length ? received : messages.filter((m) => m.type !== "scheduled");
}

export const actions = {
  async markRows(rows, read) {
    if (!rows.length) return;
    try {
      const messages = await this.api.messagesOf(rows.map((r) => r.threadId));
      let ids = messages.filter((m) => m.read !== read);
      if (!read) {
        // "unread" is about mail received: our own sent mail and drafts stay read, unless a
        // conversation holds nothing else
        const own = (m) => m.type === "sent" || m.type === "drafts";
        const received = new Set(messages.filter((m) => !own(m)).map((m) => m.threadId));
        ids = ids.filter((m) => !own(m) || !received.has(m.threadId));
      }
      ids = ids.map((m) => m.id);
      if (ids.length) await (read ? this.api.markRead(ids) : this.api.markUnread(ids));
      rows.forEach((r) => { r.unreadCount = read ? 0 : Math.max(1, r.unreadCount || 0); });
      this.list.render();
      const n = rows.length;
      this.shell.toast(`${n} conversation${n > 1 ? "s" : ""} marked as ${read ? "read" : "unread"}`, { type: "success" });
      this.readStateChanged();
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  async destroyIds(ids, { forever }) {
    if (!ids.length) return false;
    if (forever && !(await this.shell.confirm("These messages will be deleted for good, here and on the mail server.",
      { title: "Delete forever?", okText: "Delete forever", danger: true }))) return false;
    await this.api.destroy(ids);
    return true;
  },

  async deleteRows(rows) {
    if (!rows.length) return;
    const inTrash = this.filters.folder === "trash";
    try {
      const messages = await this.api.messagesOf(rows.map((r) => r.threadId));
      const ids = messages.filter((m) => (inTrash ? m.type === "trash" : m.type !== "trash")).map((m) => m.id);
      if (!(await this.destroyIds(ids, { forever: inTrash }))) return;
      rows.forEach((r) => this.list.selected.delete(r.threadId));
      this.shell.toast(`${rows.length} conversation${rows.length > 1 ? "s" : ""} ${inTrash ? "deleted" : "moved to Trash"}`, { type: "success" });
      this.readStateChanged();
      this.list.load({ quiet: true });
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  async deleteThread(threadId, messages) {
    const inTrash = this.filters.folder === "trash";
    const ids = messages.filter((m) => (inTrash ? m.type === "trash" : m.type !== "trash")).map((m) => m.id);
    try {
      if (!(await this.destroyIds(ids, { forever: inTrash }))) return;
      this.shell.toast(inTrash ? "Conversation deleted" : "Conversation moved to Trash", { type: "success" });
      this.list.load({ quiet: true });
      this.loadCounts();
      this.backToList();
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  async deleteMessages(messages) {
    const forever = messages.every((m) => m.type === "trash");
    try {
      if (!(await this.destroyIds(messages.map((m) => m.id), { forever }))) return;
      this.shell.toast(forever ? "Message deleted" : "Message moved to Trash", { type: "success" });
      this.readStateChanged();
      const left = this.reader.messages.filter((m) => !messages.includes(m));
      if (left.length) this.reader.load(this.reader.threadId); else this.backToList();
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  /** "Move to…": the folders of these messages' account (the usual folder types when they are of
   * several accounts), then mailMessages:move; answers the chosen folder's name, or null. */
  async moveMessages(messages) {
    if (!messages.length) return null;
    const accounts = [...new Set(messages.map((m) => m.accountId))];
    const choices = accounts.length === 1
      ? (await this.api.folders(accounts)).map((f) => ({
        label: f.type === "inbox" ? "Inbox" : f.name, value: f.id, type: f.type,
        here: messages.every((m) => m.folderId === f.id),
      }))
      : MOVE_TYPES.map((t) => ({ label: TYPE_TITLES[t], value: t, type: t, here: false }));
    const folder = await pickFolder(choices, messages.length);
    if (folder === null) return null;
    await this.api.move(messages.map((m) => m.id), folder);
    return choices.find((c) => c.value === folder).label;
  },

  async moveRows(rows) {
    if (!rows.length) return;
    try {
      const messages = movable(await this.api.messagesOf(rows.map((r) => r.threadId)), this.filters.folder);
      const name = await this.moveMessages(messages);
      if (name === null) return;
      rows.forEach((r) => this.list.selected.delete(r.threadId));
      this.shell.toast(`${rows.length} conversation${rows.length > 1 ? "s" : ""} moved to ${name}`, { type: "success" });
      this.readStateChanged();
      this.list.load({ quiet: true });
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  async moveThread(messages) {
    try {
      const name = await this.moveMessages(movable(messages, this.filters.folder));
      if (name === null) return;
      this.shell.toast(`Conversation moved to ${name}`, { type: "success" });
      this.list.load({ quiet: true });
      this.loadCounts();
      this.backToList();
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  async moveMessage(m) {
    try {
      const name = await this.moveMessages([m]);
      if (name === null) return;
      this.shell.toast(`Message moved to ${name}`, { type: "success" });
      this.readStateChanged();
      this.list.load({ quiet: true });
      this.reader.load(this.reader.threadId, { quiet: true });
    } catch (err) {
      this.shell.toast(err.message, { type: "error" });
    }
  },

  compose() { openCompose(this); },

  reply(messageId, all) {
    openCompose(this, { title: all ? "Reply all" : "Reply", prepare: () => this.api.prepareReply(messageId, all) });
  },

  forward(messageId) {
    openCompose(this, { title: "Forward", prepare: () => this.api.prepareForward(messageId) });
  },

  /** r / a / f: on the open conversation's newest message, or the list's cursor row. */
  replyCurrent(all) {
    const id = this.view === "thread" ? this.reader.replyTarget()?.id : this.list.rows[this.list.cursor]?.main?.id;
    if (id) this.reply(id, all);
  },

  forwardCurrent() {
    const id = this.view === "thread" ? this.reader.replyTarget()?.id : this.list.rows[this.list.cursor]?.main?.id;
    if (id) this.forward(id);
  },

  /** A draft from the Drafts folder, back in the compose dialog; Send sends that draft. */
  editDraft(m) {
    openCompose(this, {
      title: "Draft",
      prepare: async () => ({
        accountId: m.accountId, to: m.to || [], cc: m.cc || [], bcc: m.bcc || [], subject: m.subject || "",
        html: m.html || `<div style="white-space:pre-wrap">${escapeHtml(m.text || "")}</div>`, draftId: m.id,
      }),
    });
  },
};

// every action above writes (or opens compose, which sends): none runs in All mail
for (const [name, fn] of Object.entries(actions)) {
  actions[name] = function writeAction(...args) { return this.readOnly ? undefined : fn.apply(this, args); };
}
