"""HTML mail made safe to show, and plain text made into HTML.

``sanitize_html`` runs nh3 (ammonia) with an allow-list wide enough for real newsletters (tables,
``font``, ``center``, inline styles limited to layout and typography properties) and nothing that
runs or fetches on its own:

- dropped with their content: ``script``, ``style``, ``title``, ``iframe``, ``object``, ``embed``,
  ``svg``, ``math``, ``template``, form controls; dropped keeping their text: ``form`` and any
  unknown tag; ``meta``, ``link``, ``base`` and event handlers never survive.
- ``<style>`` blocks are dropped, not filtered: ammonia can only filter style *attributes*, and a
  stylesheet is where remote fetches (``url()``, ``@import``) and selector tricks hide. Newsletters
  inline their styles because many clients drop ``<style>`` too.
- URLs: ``href`` only http(s), mailto and tel; relative URLs are removed (they would resolve
  against this server), except the signed paths ``cid_url`` gives. ``data:`` only as
  ``data:image/{png,gif,jpeg,webp,bmp}`` on ``img``.
- remote images are blocked: ``<img src="http...">`` becomes ``<img data-remote-src="http...">``
  and ``has_remote_content`` is set, so a "Show images" button can restore them client-side.
  Remote CSS (``url()`` in a style, ``background=``) is removed and also sets the flag; it is not
  restorable. ``cid:`` sources go through ``cid_url`` (a signed URL), else are removed.
- every link gets ``target="_blank"`` and ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote

import nh3

_TAGS = (set(nh3.ALLOWED_TAGS) - {"area", "map"}) | {
    "font",
    "center",
    "big",
    "span",
    "div",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "caption",
    "col",
    "colgroup",
    "img",
    "a",
    "u",
    "s",
    "strike",
    "tt",
    "address",
    "section",
    "main",
    "label",
    "legend",
    "fieldset",
}
# noscript too: the sanitizer reads its content as raw text, a script-less frame as markup (mXSS).
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "title",
    "iframe",
    "frame",
    "frameset",
    "noframes",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "template",
    "textarea",
    "select",
    "option",
    "button",
    "xmp",
    "audio",
    "video",
    "canvas",
    "noscript",
}
_GENERIC = {"style", "align", "valign", "dir", "lang", "title", "bgcolor", "width", "height", "background"}
_ATTRIBUTES = {
    "*": _GENERIC,
    "a": {"href", "name"},
    "img": {"src", "alt", "border", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "summary"},
    "td": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "th": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value"},
    "hr": {"size", "noshade", "color"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "bdo": {"dir"},
    "time": {"datetime"},
    "abbr": {"title"},
}
_STYLE_PROPERTIES = {
    "color",
    "background",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "white-space",
    "word-break",
    "word-wrap",
    "overflow-wrap",
    "vertical-align",
    "direction",
    "display",
    "float",
    "clear",
    "overflow",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-radius",
    "border-collapse",
    "border-spacing",
    "width",
    "height",
    "max-width",
    "min-width",
    "max-height",
    "min-height",
    "box-sizing",
    "list-style",
    "list-style-type",
    "list-style-position",
    "table-layout",
    "caption-side",
    "empty-cells",
    "text-overflow",
}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}
_SAFE_IMAGE_DATA = re.compile(r"^data:image/(png|gif|jpe?g|webp|bmp);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
_CSS_DANGER = re.compile(r"expression|javascript:|vbscript:|behavior|binding|@import|\\", re.IGNORECASE)
_CSS_FUNCTION = re.compile(r"([a-z-]*)\s*\(")
_CSS_FUNCTIONS_OK = {"rgb", "rgba", "hsl", "hsla", "calc"}
_CSS_COMMENT = re.compile(r"/\*.*?(\*/|$)", re.DOTALL)
_REMOTE_MARK = "x-remote:"
_REMOTE_IMG = re.compile(r'(<img\b[^>]*?\s)src="' + re.escape(_REMOTE_MARK))
_LINK = re.compile(r"\bhttps?://[^\s<>\"'\x00-\x1f]+", re.IGNORECASE)


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    has_remote_content: bool


def sanitize_html(html: str, *, cid_url: Callable[[str], str | None] | None = None) -> SanitizedHtml:
    """Sanitize one HTML body (see the module doc).

    :param cid_url: maps a Content-ID (no brackets) to the URL that serves that inline part;
        ``cid:`` images are removed when it is None or answers None.
    """
    remote = False
    signed: set[str] = set()  # the relative URLs cid_url gave: the only relative URLs let through

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        nonlocal remote
        try:
            if attr == "style":
                cleaned, had_remote = _clean_style(value)
                remote = remote or had_remote
                return cleaned
            if attr == "background":
                remote = remote or value.strip().lower().startswith(("http:", "https:", "//"))
                return None
            if attr == "src":
                source = _image_source(value.strip(), cid_url, _mark_remote)
                if source and source.startswith("/"):
                    signed.add(source)
                return source
            if attr in ("href", "cite"):
                scheme = value.strip().split(":", 1)[0].lower()
                return value if scheme in ("http", "https", "mailto", "tel") else None
            return value
        except Exception:  # noqa: BLE001 - when in doubt, the attribute goes
            return None

    def _mark_remote() -> None:
        nonlocal remote
        remote = True

    cleaned = nh3.clean(
        html or "",
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=_URL_SCHEMES,
        url_relative=lambda url: url if url in signed else None,
        filter_style_properties=_STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    # nh3 escapes quotes in attribute values, so only our own marked value can match here.
    cleaned = _REMOTE_IMG.sub(r'\1data-remote-src="', cleaned)
    return SanitizedHtml(cleaned, remote)


def _image_source(
    value: str, cid_url: Callable[[str], str | None] | None, mark_remote: Callable[[], None]
) -> str | None:
    lower = value.lower()
    if lower.startswith("cid:"):
        if cid_url is None:
            return None
        url = cid_url(unquote(value[4:]).strip().strip("<>"))
        own_path = url is not None and url.startswith("/") and not url.startswith("//")
        if url and (url.startswith(("https://", "http://")) or own_path):
            return url
        return None
    if lower.startswith("data:"):
        return value if _SAFE_IMAGE_DATA.match(value) else None
    if lower.startswith(("http://", "https://")):
        mark_remote()
        return _REMOTE_MARK + value
    return None


def _clean_style(value: str) -> tuple[str | None, bool]:
    """Declarations without anything that fetches or runs; nh3 then keeps only allowed properties.

    :return: the kept declarations (None when none are left) and whether a remote url() was removed.
    """
    value = _CSS_COMMENT.sub("", value)
    kept: list[str] = []
    remote = False
    for declaration in value.split(";"):
        lower = declaration.lower()
        if "url(" in lower or "image-set(" in lower:
            remote = remote or "http" in lower or "//" in lower
            continue
        if _CSS_DANGER.search(declaration) or not set(_CSS_FUNCTION.findall(lower)) <= _CSS_FUNCTIONS_OK:
            continue
        if declaration.strip():
            kept.append(declaration.strip())
    return ("; ".join(kept) or None), remote


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, http(s) links made clickable, line breaks and spacing kept."""
    out: list[str] = []
    pos = 0
    for m in _LINK.finditer(text or ""):
        url = m.group(0).rstrip(".,;:!?)]}'\"")
        end = m.start() + len(url)
        out.append(html_lib.escape(text[pos : m.start()]))
        safe = html_lib.escape(url, quote=True)
        out.append(f'<a href="{safe}" target="_blank" rel="noopener noreferrer">{safe}</a>')
        pos = end
    out.append(html_lib.escape((text or "")[pos:]))
    body = "".join(out).replace("\r\n", "\n").replace("\n", "<br>")
    return f'<div style="white-space: pre-wrap">{body}</div>'
