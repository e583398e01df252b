"""Plain text from HTML mail, and the snippet shown under a subject in the list."""

from __future__ import annotations

import re

from plugin_email_manager.plaintext import html_to_text as _readable

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")


def html_to_text(html: str) -> str:
    """The text of an HTML-only message (``plugin_email_manager.plaintext``); never raises: a
    page html.parser can't walk still gives its words."""
    try:
        return _readable(html or "").strip()
    except Exception:  # noqa: BLE001 - hostile markup: the last resort keeps the words
        return _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html or "")).strip()


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
    # the next non-blank line after each line, found in one backward pass
    following = [""] * len(source)
    after = ""
    for i in range(len(source) - 1, -1, -1):
        following[i] = after
        if source[i].strip():
            after = source[i]
    lines: list[str] = []
    collected = 0
    for i, line in enumerate(source):
        if _CUT_MARKERS.match(line) or collected > limit * 3:  # enough to fill the snippet
            break
        if line.lstrip().startswith(">"):
            continue
        if following[i].lstrip().startswith(">") and _INTRODUCES_QUOTE.search(line):
            # "Marc Slemko wrote:" right above the quote, maybe wrapped from the line before
            if lines and _ATTRIBUTION.match(lines[-1] + " " + line):
                lines.pop()
            continue
        lines.append(line)
        collected += len(line)
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
