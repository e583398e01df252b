// A message's HTML, shown safely: the server's sanitized HTML in a sandboxed <iframe srcdoc>.
//
// - sandbox="allow-popups allow-popups-to-escape-sandbox": no scripts, an opaque origin (no
//   cookie, no access to this page), links may open new tabs (they carry target=_blank and
//   rel="noopener noreferrer" from the server; <base target=_blank> covers the rest).
// - a Content-Security-Policy inside the document: nothing loads but data: images and our
//   signed inline-image URLs, until "Show images" rebuilds it with data-remote-src → src and
//   img-src widened to http(s). Remote CSS never loads (the server removes it).
// - the page's own Content-Security-Policy: an <iframe srcdoc> takes it too, beside its <meta>
//   one, and it lets no <style> element in (style attributes only). So the body's look is
//   written into style attributes (before the mail's own declarations, which win, as over a
//   stylesheet), and the measuring copy below adopts a constructed stylesheet.
// - height: a script-less, opaque frame cannot tell its parent how tall it is, and the parent
//   cannot look inside. So the parent lays out an inert copy of the same HTML, with the same
//   stylesheet and width, in a hidden closed shadow root, and sizes the frame from it. The copy
//   keeps only layout attributes (no handlers, no links, no URLs but the images the frame itself
//   may load), so it can neither run nor fetch anything the frame would not. It is measured again
//   when the width changes and when its images load; if it is ever off, the frame scrolls.
import { h } from "/static/js/dom.js";

export const FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox";
export const INLINE_PATH = "/api/mailAttachments:inline";
const FONT = '-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif,'
  + '"Apple Color Emoji","Segoe UI Emoji","Noto Color Emoji"';

/** The look of a message body: [selector under the body, declarations], in the order of their
 *  specificity (a later rule wins where two set the same property). */
const BASE = [
  ["", `display:flow-root;margin:0;padding:0;font:14px/1.6 ${FONT};color:rgba(0,0,0,.88);`
    + "overflow-wrap:break-word;word-wrap:break-word"],
  [" img", "max-width:100%;height:auto"],
  [" table", "max-width:100%"],
  [" pre", "white-space:pre-wrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px"],
  [" blockquote", "margin:8px 0 8px 4px;padding-left:12px;border-left:3px solid #e5e5e5;color:rgba(0,0,0,.65)"],
  [" a[href]", "color:#1677ff"],
  [">:first-child", "margin-top:0"],
  [">:last-child", "margin-bottom:0"],
];
const HTML_STYLE = "margin:0;padding:0;background:#fff";

/** BASE as a stylesheet whose body is `root` (the measuring copy's). */
function baseCss(root) {
  return BASE.map(([selector, declarations]) => `${root}${selector}{${declarations}}`).join("");
}

/** BASE written into the style attributes of `body` and its elements, the mail's own last. */
function applyBase(body) {
  const added = new Map();
  for (const [selector, declarations] of BASE) {
    for (const el of selector ? body.querySelectorAll(`:scope${selector}`) : [body]) {
      added.set(el, [...(added.get(el) || []), declarations]);
    }
  }
  for (const [el, declarations] of added) {
    el.setAttribute("style", [...declarations, el.getAttribute("style") || ""].join(";"));
  }
  return body;
}

export function contentSecurityPolicy(showRemote, origin = location.origin) {
  const img = ["data:", `${origin}${INLINE_PATH}`, ...(showRemote ? ["https:", "http:"] : [])];
  return ["default-src 'none'", `img-src ${img.join(" ")}`, "style-src 'unsafe-inline'", "font-src data:",
    "form-action 'none'", "base-uri 'none'", "frame-src 'none'", "object-src 'none'", "script-src 'none'",
    "media-src 'none'", "connect-src 'none'"].join("; ");
}

function parseBody(html) {
  // DOMParser documents have no browsing context: nothing runs, nothing loads
  return new DOMParser().parseFromString(`<!doctype html><body>${html || ""}`, "text/html").body;
}

function remoteUrl(img) {
  const url = (img.getAttribute("data-remote-src") || "").trim();
  return /^https?:\/\//i.test(url) ? url : null;
}

function restoreRemoteImages(body) {
  for (const img of body.querySelectorAll("img[data-remote-src]")) {
    const url = remoteUrl(img);
    if (url) img.setAttribute("src", url);
    img.removeAttribute("data-remote-src");
  }
  return body;
}

/** The sanitized HTML with blocked remote images restored (after "Show images"). */
export function withRemoteImages(html) {
  return restoreRemoteImages(parseBody(html)).innerHTML;
}

/** The whole document of the frame: no <style> element (see the top of this file). */
export function buildSrcdoc(html, { showRemote = false } = {}) {
  const body = parseBody(html);
  if (showRemote) restoreRemoteImages(body);
  const csp = contentSecurityPolicy(showRemote).replace(/"/g, "&quot;");
  return `<!doctype html><html style="${HTML_STYLE}"><head><meta charset="utf-8">`
    + `<meta http-equiv="Content-Security-Policy" content="${csp}">`
    + `<meta name="referrer" content="no-referrer"><base target="_blank"></head>${applyBase(body).outerHTML}</html>`;
}

// ---------------------------------------------------------------- the measuring copy

const DROP = "script,style,link,meta,base,title,iframe,frame,frameset,object,embed,applet,svg,math,template,"
  + "noscript,form,input,button,select,textarea,video,audio,canvas,source,track,picture";
const KEEP = new Set(["style", "width", "height", "align", "valign", "colspan", "rowspan", "cellpadding",
  "cellspacing", "border", "size", "face", "dir", "lang", "nowrap", "start", "type", "span", "hspace", "vspace", "alt"]);
const RISKY_STYLE = /url\s*\(|expression|@import|behavior|binding|\\/i;

/** What the copy's image loads: nothing when the mail wrote its size down (the frame's own
 *  request then stays the only one); else the same image as the frame, to lay it out alike. */
function copySource(img, showRemote) {
  if (img.hasAttribute("width") && img.hasAttribute("height")) return null;
  const src = (img.getAttribute("src") || "").trim();
  if (/^data:image\/(png|gif|jpe?g|webp|bmp);base64,/i.test(src)) return src;
  try {
    const u = new URL(src, location.href);
    if (src && u.origin === location.origin && u.pathname === INLINE_PATH) return u.href;
  } catch { /* not a URL */ }
  // a second request to the sender's server, which the person allowed with "Show images"
  return showRemote ? remoteUrl(img) : null;
}

let sheet = null;
/** The measuring copy's stylesheet: constructed, as the page's policy allows no <style>. */
function copySheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(`:host{all:initial}${baseCss(".b")}`);
  }
  return sheet;
}

function inertCopy(html, showRemote) {
  const body = parseBody(html);
  body.querySelectorAll(DROP).forEach((n) => n.remove());
  for (const el of body.querySelectorAll("*")) {
    const src = el.localName === "img" ? copySource(el, showRemote) : null;
    for (const { name, value } of [...el.attributes]) {
      if (!KEEP.has(name) || (name === "style" && RISKY_STYLE.test(value))) el.removeAttribute(name);
    }
    if (src) { el.setAttribute("referrerpolicy", "no-referrer"); el.setAttribute("src", src); }
  }
  return body;
}

/**
 * A message body: {el, setHtml(html, {showRemote}), destroy()}. `el` holds the frame and its
 * measuring copy; call after it is in the document, or it measures on the next resize.
 */
export function htmlFrame(html, { showRemote = false, title = "Message body" } = {}) {
  const frame = h("iframe", { class: "mail-frame", title, sandbox: FRAME_SANDBOX, referrerpolicy: "no-referrer" });
  const measureHost = h("div", { class: "mail-frame-measure", "aria-hidden": "true" });
  measureHost.inert = true;
  const shadow = measureHost.attachShadow({ mode: "closed" });
  const copy = h("div", { class: "b" });
  shadow.adoptedStyleSheets = [copySheet()];
  shadow.append(copy);
  const el = h("div", { class: "mail-frame-box" }, frame, measureHost);

  let frameHeight = 0;
  const measure = () => {
    const width = frame.clientWidth || el.clientWidth;
    if (!width) return;
    measureHost.style.width = `${width}px`;
    const box = copy.getBoundingClientRect();
    // a table wider than the frame gives the frame a horizontal scrollbar: leave room for it
    const scrollbar = copy.scrollWidth > width + 1 ? 17 : 0;
    const next = Math.max(48, Math.ceil(box.height) + 8 + scrollbar);
    if (Math.abs(next - frameHeight) > 1) { frameHeight = next; frame.style.height = `${next}px`; }
  };
  const ro = new ResizeObserver(() => measure());
  ro.observe(el);
  shadow.addEventListener("load", measure, true);
  shadow.addEventListener("error", measure, true);

  const setHtml = (source, opts = {}) => {
    const remote = !!opts.showRemote;
    copy.replaceChildren(...document.importNode(inertCopy(source, remote), true).childNodes);
    frame.srcdoc = buildSrcdoc(source, { showRemote: remote });
    frame.dataset.remote = remote ? "shown" : "blocked";
    measure();
    document.fonts?.ready?.then(measure);
  };
  setHtml(html, { showRemote });
  return { el, frame, setHtml, measure, destroy: () => ro.disconnect() };
}

/** Plain text as the reader shows it when a message has no HTML: escaped, links clickable. */
export function textBody(text) {
  const el = h("div", { class: "mail-text" });
  const re = /\bhttps?:\/\/[^\s<>"']+/gi;
  let last = 0;
  for (const m of String(text || "").matchAll(re)) {
    const url = m[0].replace(/[.,;:!?)\]}]+$/, "");
    el.append(text.slice(last, m.index), h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    last = m.index + url.length;
  }
  el.append(String(text || "").slice(last));
  return el;
}
