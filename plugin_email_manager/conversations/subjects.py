"""Subjects: the normalized form conversations fall back on, and Re:/Fwd: subjects for replies.

Mail clients in many languages prefix replies and forwards with their own abbreviations (AW, SV,
VS, RIF, 回复 ...), sometimes counted (``Re[2]:``, ``Re(2):``, ``Re^2:``), with a full-width colon,
a space before the colon (French typography), and a mailing list's ``[tag]`` in front or between.
Message-id lists (References) are read by ``mailparse.headers.parse_msgid_list``.
"""

from __future__ import annotations

import re

# Reply prefixes: English, German (AW: Antwort), Scandinavian (SV: svar), Finnish (VS: vastaus),
# Dutch (Antw), Italian (R, RIF), French (Réf), Polish (Odp), Portuguese (Res), Turkish (YNT),
# Greek, Hebrew, Russian, Chinese (simplified and traditional), Japanese clients use Re.
_REPLY = (
    "re",
    "aw",
    "sv",
    "vs",
    "antw",
    "antwort",
    "r",
    "rif",
    "réf",
    "ref",
    "odp",
    "res",
    "ynt",
    "απ",
    "σχετ",
    "השב",
    "תשובה",
    "ответ",
    "отв",
    "回复",
    "答复",
    "回覆",
    "答覆",
)
# Forward prefixes: Fwd/Fw, German WG (Weitergeleitet), French TR (transféré), Dutch Doorst,
# Spanish RV (reenviado), Portuguese Enc (encaminhada), Polish PD, Swedish VB, Finnish VL, Turkish
# İLT, Greek, Hebrew, Russian, Chinese. (Italian "I:" is left out: too many subjects start so.)
_FORWARD = (
    "fwd",
    "fw",
    "wg",
    "tr",
    "doorst",
    "rv",
    "enc",
    "pd",
    "vb",
    "vl",
    "ilt",
    "i̇lt",
    "πρθ",
    "הועבר",
    "пересл",
    "转发",
    "轉寄",
    "转寄",
    "轉發",
)


def _prefix_pattern(words: tuple[str, ...]) -> str:
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    # counted forms: Re[2]: Re(2): Re^2: Re2: ; then an ASCII or full-width colon
    return rf"(?:{alternatives})\s*(?:\[\d+\]|\(\d+\)|\^\d+|\d+)?\s*[:：]"


_REPLY_PREFIX = re.compile(rf"^\s*{_prefix_pattern(_REPLY)}", re.IGNORECASE)
_FORWARD_PREFIX = re.compile(rf"^\s*{_prefix_pattern(_FORWARD)}", re.IGNORECASE)
_ANY_PREFIX = re.compile(rf"^\s*{_prefix_pattern(_REPLY + _FORWARD)}", re.IGNORECASE)
_LIST_TAG = re.compile(r"^\s*\[[^\[\]]{1,60}\]")
_FWD_SUFFIX = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def strip_prefixes(subject: str | None) -> str:
    """The subject without any reply/forward prefixes and list tags in front, nor "(fwd)"
    behind, case kept. Stripped until none is left: "x (fwd) (fwd)" loses both."""
    text = subject or ""
    while True:
        stripped = _LIST_TAG.sub("", text, count=1)
        stripped = _ANY_PREFIX.sub("", stripped, count=1)
        stripped = _FWD_SUFFIX.sub("", stripped, count=1)
        if stripped == text:
            return text.strip()
        text = stripped


def normalize_subject(subject: str | None) -> str:
    """The key two subjects of one conversation share: prefixes and tags gone, case-folded,
    whitespace collapsed (``"Re: AW: [list] Topic"`` → ``"topic"``).

    Case and spaces are folded before the prefixes go, so that the key of a key is the key
    itself: folded after, a 61-character list tag with a double space shrank into one the
    next pass stripped (casefolding, too, changes lengths: "ß" is "ss")."""
    return strip_prefixes(_SPACES.sub(" ", (subject or "").casefold()))


def _after_tags(subject: str) -> str:
    text = subject
    while True:
        stripped = _LIST_TAG.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


def is_reply_subject(subject: str | None) -> bool:
    """Whether the subject already starts (after list tags) with a reply prefix in any language."""
    return bool(_REPLY_PREFIX.match(_after_tags(subject or "")))


def is_forward_subject(subject: str | None) -> bool:
    return bool(_FORWARD_PREFIX.match(_after_tags(subject or "")))


def reply_subject(subject: str | None) -> str:
    """``Re: <subject>``, unless it already starts with a reply prefix (``Re:``, ``AW:``,
    ``SV:`` ...): then the subject stays as it is, as mail clients do, so nothing doubles."""
    text = _SPACES.sub(" ", subject or "").strip()
    return text if is_reply_subject(text) else f"Re: {text}".rstrip()


def forward_subject(subject: str | None) -> str:
    """``Fwd: <subject>``, unless it already starts with a forward prefix."""
    text = _SPACES.sub(" ", subject or "").strip()
    return text if is_forward_subject(text) else f"Fwd: {text}".rstrip()
