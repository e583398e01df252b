"""Address headers (From, To, Cc, Bcc, Reply-To) to ``{"name", "address"}`` objects.

``email.utils.getaddresses`` does the RFC 5322 work on the raw value; encoded words are hidden
behind placeholder atoms first, because mailers put raw commas and brackets inside them
(``=?utf-8?q?Doe,_John?=``) and decoding them before the split would split a name. When the
result looks wrong (an "address" with spaces or brackets, fewer addresses than the text plainly
holds), the list is salvaged by scanning for addr-specs.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from .charsets import decode_words

_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?]*\?=")
_PLACEHOLDER = re.compile(r"ewph(\d+)x")
# starts only where a token starts (see headers._BARE_MSGID: a 1 MB run without "@" was quadratic)
_ADDR_SPEC = re.compile(r"(?<![^\s<>,;:\"()\[\]])[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")
_PLAIN = re.compile(r"^[^\s<>,;:\"()\[\]@]+(@[^\s<>,;:\"()\[\]@]+)?$")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# what _CONTROL or _SPACES would replace: a control character, white space but a lone space
_UNTIDY = re.compile(r"[\x00-\x1f\x7f]|[^\S ]|\s\s")
_NOT_SIMPLE = re.compile(r"[()\\;:\[\]]")
_NOT_SIMPLE_WORD = re.compile(r"[,<>\"]")
_SPEC = r"[^<>\s@,\"]+@[^<>\s@,\"]+"
# one item of a simple list and the comma after it: "Quoted Name" <a@b>, Name <a@b>, or a@b
_SIMPLE_ITEM = re.compile(rf'\s*(?:"([^"\\]*)"\s*<({_SPEC})>|([^<>@,"]*?)\s*<({_SPEC})>|({_SPEC}))\s*(?:,|$)')


def parse_address_list(values: list[str]) -> list[dict[str, str]]:
    """Every address in the header values given (one header may appear more than once)."""
    out: list[dict[str, str]] = []
    for value in values:
        out.extend(_parse_one(value))
    return out


def parse_address(values: list[str]) -> dict[str, str] | None:
    """The first address of a single-address header (From), or None when there is none."""
    found = parse_address_list(values)
    return found[0] if found else None


def _parse_one(value: str) -> list[dict[str, str]]:
    value = value.replace("\r", "").replace("\n", "")
    simple = _simple(value)
    if simple is not None:
        return simple
    words: list[str] = []
    if "=?" in value:

        def hide(m: re.Match) -> str:
            words.append(m.group(0))
            return f"ewph{len(words) - 1}x"

        value = _WORD.sub(hide, value)

    def reveal(text: str) -> str:
        if words:
            text = _PLACEHOLDER.sub(
                lambda m: words[int(m.group(1))] if int(m.group(1)) < len(words) else m.group(0), text
            )
        return text

    parsed = [(reveal(name), reveal(addr)) for name, addr in getaddresses([value])]
    good = [(n, a.strip()) for n, a in parsed if a.strip() and _PLAIN.match(a.strip())]
    broken = any(a.strip() and not _PLAIN.match(a.strip()) for _, a in parsed)
    specs = _ADDR_SPEC.findall(reveal(value))
    if broken or len(specs) > sum(1 for _, a in good if "@" in a):
        good = _salvage(reveal(value), {a.lower(): n for n, a in good})
    return [{"name": _clean_name(n, a), "address": a} for n, a in good]


def _simple(value: str) -> list[dict[str, str]] | None:
    """The common ``"Quoted Name" <a@b>, Name <c@d>, e@f`` list, without escapes, comments or
    groups, read by one regex per item (getaddresses was most of stage 1's time); None when the
    value needs the full parser."""
    if _NOT_SIMPLE.search(value) or ("=?" in value and any(_NOT_SIMPLE_WORD.search(w) for w in _WORD.findall(value))):
        return None
    out = []
    pos, end = 0, len(value.rstrip())
    while pos < end:
        m = _SIMPLE_ITEM.match(value, pos)
        if m is None or m.end() == pos:
            return None
        quoted, address = m.group(1), m.group(2) or m.group(4) or m.group(5)
        name = quoted if quoted is not None else m.group(3) or ""
        out.append({"name": _clean_name(name, address), "address": address})
        pos = m.end()
    return out


def _salvage(value: str, known_names: dict[str, str]) -> list[tuple[str, str]]:
    """Each addr-spec in the text, named by getaddresses where it could, else by the text before it."""
    out: list[tuple[str, str]] = []
    start = 0
    for m in _ADDR_SPEC.finditer(value):
        addr = m.group(0).strip(".")
        name = known_names.get(addr.lower())
        if not name:
            name = value[start : m.start()].strip(" \t<,;:")
        out.append((name, addr))
        start = m.end()
        while start < len(value) and value[start] in ">":
            start += 1
    return out


def _clean_name(name: str, address: str) -> str:
    name = decode_words(name) if "=?" in name else name
    if _UNTIDY.search(name) is not None:  # else the two substitutions would change nothing
        name = _SPACES.sub(" ", _CONTROL.sub(" ", name))
    name = name.strip().strip("\"'").strip()
    if name.startswith("<") or name == address:
        return "" if name.strip("<>") == address else name
    return name
