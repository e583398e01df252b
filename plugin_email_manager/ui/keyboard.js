// Keyboard shortcuts as Gmail users expect them. Off while typing, while a dialog is open, and
// with Ctrl/Cmd/Alt held (the browser's own shortcuts). In a manager's All mail (app.readOnly) only
// the shortcuts that move and read are on.
import { h } from "/static/js/dom.js";
import { openModal } from "./modal.js";

// the keys that change mail or write it
const WRITES = new Set(["x", "r", "a", "f", "#", "I", "U", "c"]);

export const SHORTCUTS = [
  ["j / k", "Next / previous conversation"],
  ["Enter or o", "Open the conversation"],
  ["u", "Back to the list"],
  ["x", "Select the conversation"],
  ["r", "Reply"],
  ["a", "Reply all"],
  ["f", "Forward"],
  ["#", "Delete"],
  ["Shift+I / Shift+U", "Mark as read / unread"],
  ["c", "Write email"],
  ["/", "Search"],
  ["?", "These shortcuts"],
];

const READ_ONLY = ["j / k", "Enter or o", "u", "/", "?"];

function showHelp(readOnly) {
  const shown = readOnly ? SHORTCUTS.filter(([k]) => READ_ONLY.includes(k)) : SHORTCUTS;
  openModal({
    title: "Keyboard shortcuts", width: 420,
    body: h("dl", { class: "mail-shortcuts" }, shown.map(([k, what]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, what)])),
  });
}

function typing(target) {
  return !!target?.closest?.("input, textarea, select, [contenteditable=''], [contenteditable='true']");
}

/** Start listening; answers the function that stops. */
export function keyboard(app) {
  const onKey = (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (document.querySelector("dialog[open]") || typing(e.target)) return;
    const reading = app.view === "thread";
    const list = app.list;
    const row = () => list.rows[list.cursor];
    const act = {
      j: () => (reading ? app.step(1) : list.move(1)),
      k: () => (reading ? app.step(-1) : list.move(-1)),
      o: () => { if (!reading && row()) app.openThread(row().threadId); },
      Enter: () => { if (!reading && row() && !e.target.closest("a, button")) app.openThread(row().threadId); else return false; },
      u: () => { if (reading) app.reader.back(); },
      Escape: () => { if (reading) app.reader.back(); else return false; },
      x: () => { if (!reading) list.toggleCursorSelection(); },
      r: () => app.replyCurrent(false),
      a: () => app.replyCurrent(true),
      f: () => app.forwardCurrent(),
      "#": () => (reading ? app.deleteThread(app.reader.threadId, app.reader.messages) : app.deleteRows(list.targetRows())),
      I: () => { if (!reading) app.markRows(list.targetRows(), true); },
      U: () => (reading ? app.reader.markUnread(app.reader.messages.map((m) => m.id)) : app.markRows(list.targetRows(), false)),
      c: () => app.compose(),
      "/": () => app.focusSearch(),
      "?": () => showHelp(app.readOnly),
    }[e.key];
    if (!act || (app.readOnly && WRITES.has(e.key))) return;
    if (act() === false) return;
    e.preventDefault();
    app.list.el.classList.add("is-keyboard"); // the cursor bar shows once the keyboard is in use
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
