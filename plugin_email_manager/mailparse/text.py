"""Plain text from HTML mail, and the snippet shown under a subject in the list."""
from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
}
_SKIP = {"script", "style", "head", "title", "template", "noscript", "xml"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "pre":
            self.pre += 1
            self.out.append("\n")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag in _BLOCK:
            self.out.append("\n")
            if tag == "li":
                self.out.append("- ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag == "br" or tag == "hr":
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.out.append("\n")
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.out.append(data if self.pre else _SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body: blocks become lines, markup goes."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; this is the last resort
        return _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    lines = [line.strip(" ") for line in "".join(parser.out).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


_VERBS = r"(wrote|writes|schrieb|a écrit|escribió|ha scritto|scrisse|schreef|skrev|napisał|escreveu)"
# "On <date>, <name> wrote:" and its kin; German and others put the name after the verb.
_ATTRIBUTION = re.compile(
    rf"^\s*(on|am|le|el|il|op|den|på|w dniu|em)\b.{{0,300}}?\b{_VERBS}\b.{{0,100}}?:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CUT_MARKERS = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|forwarded message)"
    r"\s*-{2,}|_{20,}|-- )\s*$",
    re.IGNORECASE,
)
_INTRODUCES_QUOTE = re.compile(rf"\b{_VERBS}\b.{{0,100}}:\s*$", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def make_snippet(text: str, limit: int = 200) -> str:
    """The first ``limit`` characters of what the sender wrote, whitespace collapsed: quoted lines,
    the "On ... wrote:" attribution (also when wrapped over two lines) and whatever follows a
    signature or "Original Message" marker are left out."""
    source = text[: limit * 20].splitlines()
    lines: list[str] = []
    for i, line in enumerate(source):
        if _CUT_MARKERS.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        following = next((n for n in source[i + 1:] if n.strip()), "")
        if following.lstrip().startswith(">") and _INTRODUCES_QUOTE.search(line):
            # "Marc Slemko wrote:" right above the quote, maybe wrapped from the line before
            if lines and _ATTRIBUTION.match(lines[-1] + " " + line):
                lines.pop()
            continue
        lines.append(line)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if _ATTRIBUTION.match(lines[i]):
            i += 1
            continue
        if i + 1 < len(lines) and lines[i + 1].strip() and _ATTRIBUTION.match(lines[i] + " " + lines[i + 1]):
            i += 2
            continue
        kept.append(lines[i])
        i += 1
    flat = _WHITESPACE.sub(" ", " ".join(kept)).strip()
    if not flat:
        flat = _WHITESPACE.sub(" ", text[: limit * 4]).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip() + "…"
