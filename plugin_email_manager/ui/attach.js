// The compose dialog's attachments: files from the picker or dropped on the dialog, listed with
// their sizes, checked against the per-message limit before anything is uploaded. A forward's
// original attachments are listed too: the server carries them over and they count.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { MIB, size } from "./format.js";

export const CLIENT_LIMIT_MIB = 25; // the server's default; its own 413 message is always shown too

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(r.error || new Error(`Could not read ${file.name}`));
    r.readAsDataURL(file);
  });
}

/** attachments({carried, limitMiB, onMessage(text)}) → {el, add(files), files, total(), payload()} */
export function attachments({ carried = [], limitMiB = CLIENT_LIMIT_MIB, onMessage = () => {} } = {}) {
  const files = [];
  const list = h("ul", { class: "mail-compose-files", "aria-label": "Attachments" });
  const limit = limitMiB * MIB;
  const total = () => files.reduce((n, f) => n + f.size, 0) + carried.reduce((n, a) => n + (a.size || 0), 0);

  const paint = () => {
    list.hidden = !files.length && !carried.length;
    list.replaceChildren(
      ...carried.map((a) => h("li", { class: "mail-compose-file is-carried", title: "From the original message" },
        icon("paperclip"), h("span", { class: "mail-compose-file-name" }, a.filename || "attachment"),
        h("span", { class: "ec-muted" }, size(a.size)), h("span", { class: "mail-compose-file-note ec-muted" }, "original"))),
      ...files.map((f, i) => h("li", { class: "mail-compose-file" },
        icon("paperclip"), h("span", { class: "mail-compose-file-name" }, f.name),
        h("span", { class: "ec-muted" }, size(f.size)),
        h("button", {
          class: "mail-chip-x", type: "button", "aria-label": `Remove ${f.name}`,
          onclick: () => { files.splice(i, 1); paint(); onMessage(""); },
        }, icon("x")))));
  };

  const add = (fileList) => {
    const refused = [];
    for (const f of [...fileList]) {
      if (total() + f.size > limit) refused.push(f);
      else files.push(f);
    }
    paint();
    if (refused.length) {
      const f = refused[0];
      const alone = f.size > limit;
      onMessage(alone
        ? `“${f.name}” is ${size(f.size)}: attachments are limited to ${limitMiB} MB per message.`
        : `“${f.name}” (${size(f.size)}) would bring the attachments to ${size(total() + f.size)}: the limit is ${limitMiB} MB per message.`);
    } else {
      onMessage("");
    }
  };

  paint();
  return {
    el: list, add, files, total,
    payload: async () => Promise.all(files.map(async (f) => ({
      filename: f.name, contentType: f.type || "application/octet-stream", content: await readBase64(f),
    }))),
  };
}
