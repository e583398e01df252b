// The reader's side panel (issue 15, "Labels and notes in the reader"): the open conversation's
// labels as coloured chips, each with a remove button; "Add label", a searchable list of the
// person's labels (mailLabels) ending in "Create “x”", which defines the label with a colour and
// applies it at once; the to-do mark with an optional due day; the person's notes
// (mailMessageNotes): listed, added, deleted.
//
// The API keeps all of these per message (mailMessages.labels, todo, todoDue). The panel acts on
// the conversation, as the list shows conversations: a label or the to-do mark goes on each of its
// messages, so the list shows it whichever message is the row's; a note goes on the newest
// message, and the notes of every message of it are listed. In All mail (app.readOnly: another
// person's mail) the panel shows the labels and the to-do mark and changes nothing.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { fallbackColor, labelChip } from "./label-chips.js";
import { fullDate, listDate } from "./format.js";

const COLOURS = ["#1677ff", "#389e0d", "#d46b08", "#c41d7f", "#531dab", "#08979c", "#d4380d", "#7cb305"];

export class LabelsPanel {
  constructor(app) {
    this.app = app;
    this.el = h("aside", { class: "mail-panel", "aria-label": "Labels, to-do and notes" });
    this.messages = [];
    this.defs = []; // the person's labels: [{id, name, color}]
    this.notes = [];
    this.picking = false;
    this.query = "";
    this.colour = null; // the colour picked for a label about to be created (else one from its name)
    this.busy = false;
    this.seq = 0;
  }

  get api() { return this.app.shell.api; }

  /** Show the panel for these messages (the reader's conversation), then fetch labels and notes. */
  async show(messages) {
    const seq = ++this.seq;
    const again = messages.length && this.messages[0]?.threadId === messages[0]?.threadId;
    this.messages = messages;
    if (!again) { this.picking = false; this.query = ""; this.notes = []; }
    this.render();
    if (!messages.length) return;
    const ids = messages.map((m) => m.id);
    const [defs, notes] = await Promise.allSettled([
      this.api.get("mailLabels:list", { paginate: false, sort: "name" }, { signal: this.app.signal }),
      this.app.readOnly ? Promise.resolve({ data: [] })
        : this.api.get("mailMessageNotes:list", { filter: { mailMessageId: { $in: ids } }, sort: "createdAt", paginate: false },
          { signal: this.app.signal }),
    ]);
    if (seq !== this.seq) return;
    if (defs.status === "fulfilled") this.defs = defs.value.data || [];
    if (notes.status === "fulfilled") this.notes = notes.value.data || [];
    this.render();
  }

  labels() {
    return [...new Set(this.messages.flatMap((m) => (Array.isArray(m.labels) ? m.labels : [])))].sort();
  }

  colours() { return new Map(this.defs.map((d) => [d.name, d.color])); }

  todo() { return this.messages.some((m) => m.todo); }

  due() { return this.messages.map((m) => m.todoDue).find(Boolean) || ""; }

  /** New values on every message of the conversation; the answer's rows replace their marks. */
  async update(values, done) {
    if (this.busy || !this.messages.length) return;
    this.busy = true;
    try {
      const rows = await this.app.api.updateMessage(this.messages.map((m) => m.id), values);
      for (const row of Array.isArray(rows) ? rows : [rows]) {
        const m = this.messages.find((x) => x.id === row?.id);
        if (m) Object.assign(m, { labels: row.labels, todo: row.todo, todoDue: row.todoDue });
      }
      done?.();
    } catch (err) {
      this.app.shell.toast(err.message, { type: "error" });
    } finally {
      this.busy = false;
      this.app.reader.labelsChanged();
    }
  }

  apply(name) {
    const names = [...new Set([...this.labels(), name])];
    this.update({ labels: names }, () => { this.picking = false; this.query = ""; this.colour = null; });
  }

  remove(name) { this.update({ labels: this.labels().filter((n) => n !== name) }); }

  async create(name) {
    const colour = this.colour || fallbackColor(name);
    try {
      const res = await this.api.post("mailLabels:create", { name, color: colour });
      this.defs = [...this.defs, res.data].sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      if (err.code !== "DUPLICATE") { this.app.shell.toast(err.message, { type: "error" }); return; }
    }
    this.apply(name);
  }

  async addNote(text, input) {
    const content = text.trim();
    const newest = this.messages[this.messages.length - 1];
    if (!content || !newest) return;
    try {
      const res = await this.api.post("mailMessageNotes:create", { mailMessageId: newest.id, content });
      this.notes = [...this.notes, res.data];
      input.value = "";
      this.render();
      this.el.querySelector(".mail-note-input")?.focus();
    } catch (err) {
      this.app.shell.toast(err.message, { type: "error" });
    }
  }

  async deleteNote(note) {
    try {
      await this.api.post("mailMessageNotes:destroy", {}, { params: { filterByTk: note.id } });
      this.notes = this.notes.filter((n) => n.id !== note.id);
      this.render();
    } catch (err) {
      this.app.shell.toast(err.message, { type: "error" });
    }
  }

  // ------------------------------------------------------------------ drawing

  labelsSection(readOnly) {
    const colours = this.colours();
    const names = this.labels();
    const chips = names.map((name) => {
      const chip = labelChip(name, colours);
      if (!readOnly) {
        chip.classList.add("mail-panel-chip");
        chip.append(h("button", {
          class: "mail-chip-remove", type: "button", "aria-label": `Remove label ${name}`, title: "Remove",
          disabled: this.busy, onclick: () => this.remove(name),
        }, icon("x")));
      }
      return chip;
    });
    return h("section", { class: "mail-panel-section", "aria-label": "Labels" },
      h("h2", { class: "mail-panel-title" }, icon("tag"), "Labels"),
      names.length ? h("div", { class: "mail-panel-chips" }, chips) : h("p", { class: "ec-muted mail-panel-empty" }, "No labels"),
      !readOnly && (this.picking ? this.picker(names)
        : h("button", { class: "ec-btn ec-btn-sm mail-add-label", type: "button",
          onclick: () => { this.picking = true; this.render(); this.el.querySelector(".mail-label-search")?.focus(); } },
        icon("plus"), "Add label")));
  }

  picker(applied) {
    const q = this.query.trim();
    const lower = q.toLowerCase();
    const options = this.defs.filter((d) => !applied.includes(d.name) && d.name.toLowerCase().includes(lower));
    const exact = this.defs.some((d) => d.name.toLowerCase() === lower) || applied.some((n) => n.toLowerCase() === lower);
    const creatable = q && q.length <= 100 && !exact;
    const colours = this.colours();
    const list = h("div", { class: "mail-label-options", role: "listbox", "aria-label": "Labels to apply" },
      options.map((d) => h("button", {
        class: "mail-label-option", type: "button", role: "option", "aria-selected": "false", onclick: () => this.apply(d.name),
      }, labelChip(d.name, colours))),
      creatable && h("button", {
        class: "mail-label-option mail-label-create", type: "button", role: "option", "aria-selected": "false",
        onclick: () => this.create(q),
      }, icon("plus"), `Create “${q}”`),
      !options.length && !creatable && h("p", { class: "ec-muted mail-panel-empty" }, q ? "Already applied" : "No other labels yet: type a name"));
    const input = h("input", {
      class: "ec-input mail-label-search", type: "text", value: this.query, placeholder: "Find or create a label",
      "aria-label": "Find or create a label", autocomplete: "off", maxlength: "100",
      oninput: (e) => {
        this.query = e.target.value;
        const at = e.target.selectionStart;
        this.render();
        const again = this.el.querySelector(".mail-label-search");
        again?.focus();
        again?.setSelectionRange(at, at);
      },
      onkeydown: (e) => {
        if (e.key === "Escape") { e.stopPropagation(); this.picking = false; this.query = ""; this.render(); this.el.querySelector(".mail-add-label")?.focus(); }
        if (e.key === "Enter") {
          e.preventDefault();
          if (options.length) this.apply(options[0].name); else if (creatable) this.create(q);
        }
      },
    });
    const chosen = this.colour || (q ? fallbackColor(q) : null);
    const swatches = creatable && h("div", { class: "mail-swatches", role: "radiogroup", "aria-label": `Colour of “${q}”` },
      COLOURS.map((c) => {
        const b = h("button", { class: "mail-swatch", type: "button", role: "radio", "aria-checked": String(c === chosen),
          "aria-label": `Colour ${c}`, title: c, onclick: () => { this.colour = c; this.render(); this.el.querySelector(".mail-label-search")?.focus(); } });
        b.style.setProperty("--mail-label", c);
        return b;
      }));
    return h("div", { class: "mail-label-picker" }, input, swatches, list,
      h("button", { class: "ec-btn ec-btn-text ec-btn-sm", type: "button",
        onclick: () => { this.picking = false; this.query = ""; this.render(); } }, "Cancel"));
  }

  todoSection(readOnly) {
    const todo = this.todo();
    const due = this.due();
    if (readOnly) {
      return h("section", { class: "mail-panel-section", "aria-label": "To-do" },
        h("h2", { class: "mail-panel-title" }, icon("check"), "To-do"),
        h("p", { class: "ec-muted mail-panel-empty" }, todo ? (due ? `To do by ${due}` : "To do") : "Not a to-do"));
    }
    return h("section", { class: "mail-panel-section", "aria-label": "To-do" },
      h("h2", { class: "mail-panel-title" }, icon("check"), "To-do"),
      h("label", { class: "mail-check mail-todo-check" },
        h("input", { type: "checkbox", checked: todo, disabled: this.busy,
          onchange: (e) => this.update(e.target.checked ? { todo: true } : { todo: false, todoDue: null }) }),
        h("span", {}, "Mark as to-do")),
      h("label", { class: "mail-due" }, h("span", {}, "Due"),
        h("input", { class: "ec-input", type: "date", value: due, disabled: !todo || this.busy, "aria-label": "Due date",
          onchange: (e) => this.update({ todoDue: e.target.value || null }) })));
  }

  notesSection() {
    const input = h("textarea", { class: "ec-input mail-note-input", rows: "3", placeholder: "Add a note for yourself", "aria-label": "New note",
      maxlength: "5000" });
    return h("section", { class: "mail-panel-section", "aria-label": "Notes" },
      h("h2", { class: "mail-panel-title" }, icon("pencil"), "Notes"),
      this.notes.length
        ? h("ul", { class: "mail-notes" }, this.notes.map((n) => h("li", { class: "mail-note" },
          h("p", { class: "mail-note-text" }, n.content),
          h("div", { class: "mail-note-foot" },
            h("time", { class: "ec-muted", datetime: n.createdAt || "", title: fullDate(n.createdAt) }, listDate(n.createdAt)),
            h("button", { class: "ec-btn ec-btn-text ec-btn-icon ec-btn-sm", type: "button", "aria-label": "Delete note", title: "Delete note",
              onclick: () => this.deleteNote(n) }, icon("trash"))))))
        : h("p", { class: "ec-muted mail-panel-empty" }, "No notes"),
      h("form", { class: "mail-note-form", onsubmit: (e) => { e.preventDefault(); this.addNote(input.value, input); } },
        input, h("button", { class: "ec-btn ec-btn-sm", type: "submit" }, "Add note")));
  }

  render() {
    const readOnly = !!this.app.readOnly;
    if (!this.messages.length) { this.el.replaceChildren(); return; }
    this.el.replaceChildren(...[this.labelsSection(readOnly), this.todoSection(readOnly), !readOnly && this.notesSection()].filter(Boolean));
  }
}
