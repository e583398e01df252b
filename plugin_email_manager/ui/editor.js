// The compose body: the browser's own rich-text editing (contenteditable) with a small toolbar
// (bold, italic, link, lists). Quoted originals come from the server already sanitized; they are
// scrubbed once more here before they enter this page's DOM, which (unlike the reader's frame)
// is our own origin.
import { h } from "/static/js/dom.js";
import { icon } from "./icons.js";
import { INLINE_PATH } from "./frame.js";

const DROP = "script,style,link,meta,base,title,iframe,frame,frameset,object,embed,applet,svg,math,template,"
  + "noscript,form,input,button,select,textarea,video,audio,canvas";

/** Plain text made safe to put into HTML. */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** Sanitized-by-the-server HTML made inert for our own DOM: no handlers, no active URLs. */
export function scrubHtml(html) {
  const body = new DOMParser().parseFromString(`<!doctype html><body>${html || ""}`, "text/html").body;
  body.querySelectorAll(DROP).forEach((n) => n.remove());
  for (const el of body.querySelectorAll("*")) {
    for (const { name, value } of [...el.attributes]) {
      const v = value.trim();
      const bad = name.startsWith("on")
        || (name === "href" && !/^(https?:|mailto:|tel:)/i.test(v))
        || (name === "src" && !(/^data:image\/(png|gif|jpe?g|webp|bmp);base64,/i.test(v) || v.startsWith(INLINE_PATH)
          || v.startsWith(`${location.origin}${INLINE_PATH}`)))
        || (name === "style" && /url\s*\(|expression|@import|behavior|binding|\\/i.test(v))
        || ["srcset", "action", "formaction", "background", "ping", "xlink:href"].includes(name);
      if (bad) el.removeAttribute(name);
    }
  }
  return body.innerHTML;
}

/** `quoted`: `html` is an original to answer, written below an empty first line. */
export function richEditor({ html = "", label = "Message body", quoted = true, signature = "" } = {}) {
  const body = h("div", {
    class: "mail-editor-body", contenteditable: "true", role: "textbox", "aria-multiline": "true", "aria-label": label,
    spellcheck: "true",
  });
  // an answer: a line to write on, a blank line, then the quote (its own leading breaks dropped)
  const quote = () => scrubHtml(html).replace(/^(\s*<br\s*\/?>)+/i, "");
  // the signature goes under the line to write on, above any quote (as mail clients place it)
  const sig = signature ? `<div class="mail-signature">-- <br>${scrubHtml(signature)}</div>` : "";
  body.innerHTML = !html ? `<div><br></div>${sig}` : quoted ? `<div><br></div>${sig}<br>${quote()}` : scrubHtml(html);

  const exec = (cmd, value = null) => {
    body.focus();
    document.execCommand(cmd, false, value);
    paint();
  };
  const linkInput = h("input", { class: "ec-input mail-link-input", type: "url", placeholder: "https://", "aria-label": "Link address" });
  let savedRange = null;
  const linkPop = h("div", { class: "mail-link-pop", hidden: true },
    linkInput,
    h("button", { class: "ec-btn ec-btn-primary ec-btn-sm", type: "button", onclick: () => applyLink() }, "Apply"),
    h("button", { class: "ec-btn ec-btn-sm", type: "button", onclick: () => { linkPop.hidden = true; body.focus(); } }, "Cancel"));
  function applyLink() {
    let url = linkInput.value.trim();
    if (url && !/^(https?:|mailto:)/i.test(url)) url = `https://${url}`;
    linkPop.hidden = true;
    body.focus();
    if (savedRange) { const s = getSelection(); s.removeAllRanges(); s.addRange(savedRange); }
    if (!url) return;
    if (getSelection().isCollapsed) document.execCommand("insertHTML", false, `<a href="${encodeURI(url)}">${url.replace(/[<>&"]/g, "")}</a>`);
    else document.execCommand("createLink", false, url);
    paint();
  }
  linkInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); applyLink(); }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); linkPop.hidden = true; body.focus(); }
  });

  const tool = (cmd, label, iconName, onclick) => h("button", {
    class: "mail-editor-tool", type: "button", "aria-label": label, title: label, "data-cmd": cmd, "aria-pressed": "false",
    onmousedown: (e) => e.preventDefault(), // keep the selection in the body
    onclick: onclick || (() => exec(cmd)),
  }, icon(iconName));
  const toolbar = h("div", { class: "mail-editor-toolbar", role: "toolbar", "aria-label": "Formatting" },
    tool("bold", "Bold", "bold"), tool("italic", "Italic", "italic"),
    tool("createLink", "Link", "link", () => {
      const s = getSelection();
      savedRange = s.rangeCount && body.contains(s.anchorNode) ? s.getRangeAt(0).cloneRange() : null;
      linkInput.value = "";
      linkPop.hidden = false;
      linkInput.focus();
    }),
    h("span", { class: "mail-editor-sep" }),
    tool("insertUnorderedList", "Bulleted list", "list"), tool("insertOrderedList", "Numbered list", "list-ordered"),
    linkPop);

  function paint() {
    for (const b of toolbar.querySelectorAll("[data-cmd]")) {
      const cmd = b.dataset.cmd;
      if (cmd === "createLink") continue;
      let on = false;
      try { on = document.queryCommandState(cmd); } catch { /* not supported */ }
      b.setAttribute("aria-pressed", String(on));
    }
  }
  const onSel = () => { if (body.contains(getSelection()?.anchorNode)) paint(); };
  document.addEventListener("selectionchange", onSel);
  body.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey) {
      if (e.key === "b") { e.preventDefault(); exec("bold"); }
      if (e.key === "i") { e.preventDefault(); exec("italic"); }
    }
  });

  const el = h("div", { class: "mail-editor" }, toolbar, body);
  return {
    el, body,
    html: () => body.innerHTML,
    /** Put (made inert) HTML at the top, e.g. a template's text. */
    insertTop: (fragment) => {
      body.insertAdjacentHTML("afterbegin", scrubHtml(fragment));
      paint();
    },
    text: () => body.innerText.replace(/\u00a0/g, " "),
    focus: () => {
      body.focus();
      const r = document.createRange();
      r.setStart(body, 0);
      r.collapse(true);
      const s = getSelection();
      s.removeAllRanges();
      s.addRange(r);
    },
    destroy: () => document.removeEventListener("selectionchange", onSel),
  };
}
