"""Readable plain text from HTML: the text/plain alternative of an HTML-only message, the quote
of a reply, and the text of HTML-only mail received (one converter for both directions)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "address",
    "article",
    "aside",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "li",
    "main",
    "nav",
    "section",
    "tr",
}
_PARAGRAPH = {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"}
_HIDDEN = {"head", "script", "style", "template", "title", "noscript"}
_QUOTE_IN, _QUOTE_OUT = "\x01", "\x02"  # blockquote markers, each on a line of its own


class _TextMaker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)  # entities arrive unescaped in handle_data
        self.out: list[str] = []
        self.hidden = self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, len(out) at <a>)
        self.lists: list[int | None] = []  # None for <ul>, the next number for <ol>

    def _tail(self) -> str:
        return "".join(self.out[-4:]).rstrip(" ")

    def _break(self, count: int) -> None:
        tail = self._tail()
        have = len(tail) - len(tail.rstrip("\n"))
        if tail and have < count:
            self.out.append("\n" * (count - have))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "hr":
            self._break(1), self.out.append("-" * 40), self._break(1)
        elif tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append(None if tag == "ul" else 1)
        elif tag == "li":
            self._break(1)
            number = self.lists[-1] if self.lists else None
            if number is not None:
                self.lists[-1] = number + 1
            self.out.append("  " * max(len(self.lists) - 1, 0) + (f"{number}. " if number else "- "))
        elif tag == "blockquote":
            self._break(1), self.out.append(_QUOTE_IN), self._break(1)
        elif tag in _PARAGRAPH or tag in _BLOCK:
            self._break(2 if tag in _PARAGRAPH else 1)
            if tag == "pre":
                self.pre += 1
        elif tag in ("td", "th") and not self._tail().endswith(("\n", _QUOTE_IN)) and self._tail():
            self.out.append("  ")
        elif tag == "a":
            self.links.append((attrs.get("href") or "", len(self.out)))
        elif tag == "img" and attrs.get("alt"):
            self.out.append(attrs["alt"])

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "blockquote":
            self._break(1), self.out.append(_QUOTE_OUT), self._break(1)
        elif tag in _PARAGRAPH or tag in _BLOCK:
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)
            self._break(2 if tag in _PARAGRAPH else 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            target = href[7:] if href.lower().startswith("mailto:") else href
            if href and not href.startswith(("#", "javascript:")) and target != label:
                self.out.append(f" <{target}>" if label else f"<{target}>")

    def handle_data(self, data):
        if self.hidden:
            return
        if not self.pre:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
            if not self.out or self.out[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        self.out.append(data)


# html.parser reads the rest of the page again for each "<" whose tag is not closed before the
# next "<": "<a <a <a ..." took 9 s for 30 KB and minutes for 1 MB (quadratic and worse). Markup
# with more than a few such tags is first rebuilt by html5ever (nh3, linear), as a browser would
# read it; ordinary mail has none and keeps the one pass.
_UNCLOSED = re.compile(r"<[^<>]*<")
_UNCLOSED_TOLERATED = 20
_KEEP_ATTRIBUTES = {"a": {"href"}, "img": {"alt"}}
_DROP_CONTENT = {"script", "style", "title", "template", "noscript"}


def _rebuilt(html: str) -> str:
    for unclosed, _ in enumerate(_UNCLOSED.finditer(html), start=1):
        if unclosed > _UNCLOSED_TOLERATED:
            import nh3  # only broken markup needs it

            return nh3.clean(
                html,
                attributes=_KEEP_ATTRIBUTES,
                clean_content_tags=_DROP_CONTENT,
                link_rel=None,
                url_schemes={"http", "https", "mailto", "cid", "ftp", "tel"},
            )
    return html


def html_to_text(html: str) -> str:
    """Readable plain text: blocks on their own lines, links as "text <url>", quotes as "> "."""
    maker = _TextMaker()
    try:
        maker.feed(_rebuilt(html or ""))
        maker.close()
    except AssertionError:  # html.parser gives up on some marked sections ("<![bogus"): keep what it read
        pass
    # one blank line wherever the source had blank lines or the quote depth changes, drawn at
    # the shallower depth ("> x", ">", "> > y")
    rendered: list[str] = []
    depth, last_depth, gap = 0, 0, False
    for line in "".join(maker.out).replace("\xa0", " ").split("\n"):
        line = line.rstrip()
        if line in (_QUOTE_IN, _QUOTE_OUT):
            depth = max(depth + (1 if line == _QUOTE_IN else -1), 0)
        elif not line:
            gap = True
        else:
            if rendered and (gap or depth != last_depth):
                rendered.append("> " * min(depth, last_depth))
            rendered.append("> " * depth + line)
            last_depth, gap = depth, False
    return "".join(r.rstrip() + "\n" for r in rendered)
