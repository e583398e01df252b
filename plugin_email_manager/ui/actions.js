// What a person does to mail from the list, the reader and the keyboard: read state, delete,
// reply, forward, write. Mixed into the page (mail.js), whose state (`this`) they use.
import { openCompose } from "./compose.js";
import { escapeHtml } from "./editor.js";

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
