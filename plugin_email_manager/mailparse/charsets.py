"""Bytes to text for any charset label found in mail, and RFC 2047 encoded words.

Mail lies about its charsets: ``us-ascii`` over UTF-8, ``iso-8859-1`` over UTF-8, ``gb2312`` over
GBK, labels no codec knows. ``decode_text`` never raises and never loses a byte silently when a
better reading exists: the declared charset first (through the superset mailers really mean), then
UTF-8, then a guess, and only then replacement characters. A charset that decodes cleanly is
never second-guessed, and ASCII stays ASCII.

The guess (``guess_charset``): charset-normalizer, on a sample of a few KB whatever the size of
the text, among the charsets mail is written in (``_MAIL_CHARSETS``), since its full list offers
readings no mailer meant. Its candidates are ranked again by ``_plausibility``: on short text
(a header, a sentence) it cannot tell Latin-1 from Latin-2 from Latin-5, all of which decode, while
the letters each reading yields can (``ş`` makes Turkish, ``ą`` Polish; ``ţ``, ``ý`` and ``đ``
together make no language).
"""

from __future__ import annotations

import binascii
import codecs
import re
import unicodedata
from functools import lru_cache

import charset_normalizer

# Labels mailers write that mean a superset, or that Python spells differently. Keys are lower-case
# labels or Python codec names; values are the codecs to try in order.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "iso8859-1": ("cp1252",),  # what every browser does: C1 controls in mail are Windows punctuation
    "iso8859-9": ("cp1254",),
    "iso8859-11": ("cp874",),
    "tis-620": ("cp874",),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("big5hkscs",),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932",),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2"),
}
_ALIASES = {
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "x-sjis": "cp932",
    "x-gbk": "gb18030",
    "x-euc-jp": "euc_jp",
    "ks_c_5601": "cp949",
    "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-greek": "mac_greek",
    "x-mac-ce": "mac_latin2",
    "x-mac-turkish": "mac_turkish",
    "cp-850": "cp850",
    "x-cp1250": "cp1250",
    "x-cp1251": "cp1251",
    "x-cp1252": "cp1252",
    "utf8mb4": "utf-8",
    "ascii-8bit": "",
    "unknown-8bit": "",
    "x-unknown": "",
    "unknown": "",
    "x-user-defined": "",
    "default": "",
    "charset": "",
    "none": "",
}
# Codecs that exist in Python but are not charsets anyone may send us.
_NOT_CHARSETS = {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "mbcs", "oem"}
# Codecs whose 7-bit input still needs decoding (escape sequences, shifted bytes).
_NOT_ASCII_SAFE = ("utf-16", "utf-32", "utf-7", "iso2022", "hz")
_HIGH = bytes(range(0x80, 0x100))


@lru_cache(maxsize=512)
def codecs_for(label: str | None) -> tuple[str, ...]:
    """The Python codecs to try for a charset label, best first; () when the label is unusable."""
    if not label:
        return ()
    name = label.strip().strip("\"'").split("*", 1)[0].strip().lower()
    name = _ALIASES.get(name, name)
    if not name:
        return ()
    try:
        info = codecs.lookup(name)
    except LookupError:
        if name.startswith("x-"):
            return codecs_for(name[2:])
        return ()
    if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return ()
    return _SUPERSETS.get(info.name, (info.name,))


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Decode ``data`` labelled ``charset`` (possibly wrong, unknown or missing); never raises."""
    tried = codecs_for(charset)
    if data.isascii() and not any(c.startswith(_NOT_ASCII_SAFE) for c in tried):
        return data.decode("ascii")
    # UTF-8 labelled as ASCII or Latin-1 is the commonest lie; valid multi-byte UTF-8 is
    # practically never an accident in real Latin-1 text, so it is tried before those labels.
    utf8_first = not tried or tried[0] in ("ascii", "cp1252")
    if utf8_first:
        text = _strict(data, "utf-8")
        if text is not None:
            return text
    if tried and tried[0] != "ascii":
        for codec in tried:
            text = _strict(data, codec)
            if text is not None:
                return text
    if not utf8_first:
        text = _strict(data, "utf-8")
        if text is not None:
            return text
    guessed = guess_decode(data)
    if guessed is not None:
        return guessed
    for codec in tried:
        try:
            return data.decode(codec, "replace")
        except (LookupError, ValueError):
            continue
    # Mostly UTF-8 with a few broken sequences reads best as UTF-8; anything else as cp1252.
    text = data.decode("utf-8", "replace")
    high = len(data) - len(data.translate(None, _HIGH))
    if text.count("\ufffd") * 4 <= high:
        return text
    return _strict(data, "cp1252") or data.decode("latin-1")


def guess_decode(data: bytes) -> str | None:
    """``data`` decoded from its guessed charset (see the module doc), or None without a guess."""
    if not data:
        return ""
    codec = guess_charset(data)
    return _strict(data, codec) if codec else None


# What mail is written in besides UTF-8 (tried before any guess): charset-normalizer chooses
# among these only. Each superset stands for its subset (cp1252 for ISO-8859-1, cp932 for
# Shift_JIS, gb18030 for GB2312).
_MAIL_CHARSETS = [
    "cp1252",
    "iso8859_15",
    "cp1250",
    "iso8859_2",
    "cp1257",
    "cp1254",
    "iso8859_9",
    "cp1251",
    "koi8_r",
    "iso8859_5",
    "cp1253",
    "iso8859_7",
    "cp1255",
    "iso8859_8",
    "cp1256",
    "iso8859_6",
    "cp874",
    "cp932",
    "euc_jp",
    "iso2022_jp",
    "gb18030",
    "big5hkscs",
    "cp949",
]
_MAIL_RANK = {name: i for i, name in enumerate(_MAIL_CHARSETS)}
_SAMPLE = 4096  # bytes: enough for a guess, and bounded whatever the size of the text
# The letters beyond ASCII of the languages written in each single-byte Latin charset.
_WESTERN = "àáâãäåæçèéêëìíîïñòóôõöøùúûüÿßœšž"  # no ð þ ý: Icelandic is rare, Turkish read as cp1252 is not
_CENTRAL = {
    "polish": "ąćęłńóśźż",
    "czech": "áčďéěíňóřšťúůýž",
    "slovak": "áäčďéíĺľňóôŕšťúýž",
    "hungarian": "áéíóöőúüű",
    "romanian": "ăâîșțşţ",
    "croatian": "čćđšž",
    "german": "äöüß",
}
_LATIN_LANGUAGES: dict[str, tuple[str, ...]] = {
    "cp1252": (_WESTERN,),
    "iso8859_15": (_WESTERN,),
    "cp1250": tuple(_CENTRAL.values()),
    "iso8859_2": tuple(_CENTRAL.values()),
    "cp1254": ("çğıöşüâîû", _WESTERN),
    "iso8859_9": ("çğıöşüâîû", _WESTERN),
    "cp1257": ("ąčęėįšųūžāēģīķļņõäöü",),
}
_NEUTRAL = set("\u00a0“”‘’‚„–—…•·«»°§©®™€£¥№´")  # punctuation every reading may carry (´ as an apostrophe)


def guess_charset(data: bytes) -> str | None:
    """The codec ``data`` (not UTF-8, no usable label) is most likely in, judged on a sample;
    None when no candidate decodes the whole of it."""
    sample = data[:_SAMPLE]
    if len(data) > _SAMPLE:  # end the sample on an ASCII byte: not inside a multi-byte character
        cut = max(sample.rfind(b"\n"), sample.rfind(b" "))
        sample = sample[:cut] if cut > _SAMPLE // 2 else sample
    try:
        matches = list(charset_normalizer.from_bytes(sample, cp_isolation=_MAIL_CHARSETS))
    except Exception:  # noqa: BLE001 - a guess that fails is no guess
        matches = []
    candidates: list[str] = []
    for match in matches:
        # charsets that read the sample alike: the commonest first (cp1252 for German text whose
        # sample holds only the umlauts that cp1250 shares)
        alike = sorted({match.encoding, *match.could_be_from_charset} & _MAIL_RANK.keys(), key=lambda n: _MAIL_RANK[n])
        candidates.extend(name for name in alike if name not in candidates)
    if not candidates:
        return _legacy_guess(data)
    readings = [(codec, _strict(sample, codec)) for codec in candidates]
    ranked = sorted(
        ((_plausibility(text, codec), -i, codec) for i, (codec, text) in enumerate(readings) if text is not None),
        reverse=True,
    )
    for _score, _order, codec in ranked:
        if len(data) == len(sample) or _strict(data, codec) is not None:
            return codec
    return _legacy_guess(data)


def _plausibility(text: str, codec: str) -> float:
    """How much the non-ASCII characters of ``text`` look like one language written in ``codec``:
    the share that are its letters or ordinary punctuation, less letters whose case changes
    inside a word (KOI8-R read as cp1251) or whose script sits inside a Latin word, and Hangul
    syllables no Korean text needs."""
    alphabets = _LATIN_LANGUAGES.get(codec)
    counts = [0] * len(alphabets) if alphabets else [0]
    total = odd = 0
    previous = " "
    for ch in text:
        if ch < "\x80" or ch in _NEUTRAL or (not ch.isalpha() and unicodedata.category(ch)[0] in "PZ"):
            previous = ch
            continue
        total += 1
        if not ch.isalpha():  # three different signs of a wrong reading
            odd += 1  # a symbol: ± and ¤ where Latin-2 letters were read as Latin-1
        elif previous.isalpha() and previous.islower() and ch.isupper():
            odd += 1
        elif codec == "cp949" and "\uac00" <= ch <= "\ud7a3" and len(ch.encode("euc_kr", "ignore")) != 2:
            odd += 1  # outside KS X 1001's 2,350 syllables (Python's euc_kr spells those in 8 bytes)
        elif alphabets:
            low = ch.lower()
            for i, alphabet in enumerate(alphabets):
                counts[i] += low in alphabet
        elif not (previous < "\x80" and previous.isalpha()):  # a non-Latin letter beside a Latin one
            counts[0] += 1
        previous = ch
    if not total:
        return 1.0
    return (max(counts) - odd) / total


def _legacy_guess(data: bytes) -> str | None:
    """The guess charset-normalizer could not make: mostly-ASCII text is Western (cp1252), mostly
    8-bit text CJK or Cyrillic, scored by how much of what each candidate yields is ordinary script."""
    high = len(data) - len(data.translate(None, _HIGH))
    if high * 10 < len(data) * 3:
        return "cp1252" if _strict(data, "cp1252") is not None else "latin-1"
    best, best_score = None, 0.5
    for codec in ("gb18030", "big5hkscs", "cp932", "euc_jp", "cp949", "cp1251", "koi8_r"):
        text = _strict(data, codec)
        if text is None:
            continue
        score = _script_score(text, codec)
        if score > best_score:
            best, best_score = codec, score
    return best


def _script_score(text: str, codec: str) -> float:
    """Share of non-ASCII characters that are ordinary script, with a bonus for the mark of the
    language each codec serves (kana for Japanese, Hangul for Korean, lower-case for Cyrillic),
    since a wrong CJK reading still yields plausible ideographs."""
    good = bad = kana = hangul = lower = 0
    for ch in text:
        o = ord(ch)
        if o < 0x80:
            continue
        if 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0xAC00 <= o <= 0xD7A3:
            hangul += 1
        elif 0x0430 <= o <= 0x044F:
            lower += 1
        elif not (
            0x4E00 <= o <= 0x9FFF
            or 0x3000 <= o <= 0x303F
            or 0xFF01 <= o <= 0xFF5E
            or 0x0410 <= o <= 0x042F
            or o in (0x401, 0x451)
        ):
            bad += 1
            continue
        good += 1
    total = good + bad
    if not total:
        return 0.0
    score = (good - 3 * bad) / total
    if codec in ("cp932", "euc_jp") and kana * 10 >= total:
        score += 0.5
    elif codec == "cp949" and hangul * 10 >= total * 3:
        score += 0.5
    elif codec in ("cp1251", "koi8_r"):
        score += 0.1 * lower / total
    return score


# --- RFC 2047 ---------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "qQ":
        return binascii.a2b_qp(text.encode("utf-8", "surrogateescape"), header=True)
    cleaned = "".join(text.split())
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    try:
        return binascii.a2b_base64((cleaned + "=" * (-len(cleaned) % 4)).encode("ascii", "ignore"))
    except binascii.Error:
        return text.encode("utf-8", "surrogateescape")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in ``value``; text around them is kept as it is.

    Adjacent words in one charset are joined as bytes before decoding, because mailers split a
    multi-byte character across two words; whitespace between encoded words is dropped (RFC 2047 6.2).
    """
    if "=?" not in value:
        return value
    pieces: list[list] = []  # [charset or None, bytes or str]
    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        between = value[pos : m.start()]
        previous_is_word = bool(pieces) and pieces[-1][0] is not None
        if between and not (between.isspace() and previous_is_word):
            pieces.append([None, between])
            previous_is_word = False
        charset, encoding, text = m.groups()
        data = _word_bytes(encoding, text)
        if previous_is_word and pieces[-1][0].lower() == charset.lower():
            pieces[-1][1] += data
        else:
            pieces.append([charset, data])
        pos = m.end()
    if pos < len(value):
        pieces.append([None, value[pos:]])
    return "".join(decode_text(data, charset) if charset is not None else data for charset, data in pieces)


def fix_8bit(value: str, charset: str | None = None) -> str:
    """Turn the surrogate-escaped raw bytes the parser leaves in 8-bit headers into text: UTF-8
    when they are UTF-8, else ``charset`` (see ``raw_header_charset``) when it decodes them, else
    ``decode_text``'s guess."""
    if value.isascii():
        return value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value  # already real text
    text = _strict(data, "utf-8")
    if text is not None:
        return text
    for codec in codecs_for(charset):
        if codec != "ascii":
            text = _strict(data, codec)
            if text is not None:
                return text
    return decode_text(data, None)


def raw_header_charset(values: list[str], declared: str | None) -> str | None:
    """The charset of the raw 8-bit bytes in a message's header values (surrogate-escaped), for
    ``fix_8bit``: the charset the message declares for its text when it decodes them all (the
    mailer wrote both), else a guess made on all of them at once, since one name is too short to
    guess from. None when they are ASCII or UTF-8."""
    data = b"\n".join(v.encode("ascii", "surrogateescape") for v in values if not v.isascii())
    if not data or _strict(data, "utf-8") is not None:
        return None
    for codec in codecs_for(declared):
        if codec != "ascii" and _strict(data, codec) is not None:
            return codec
    return guess_charset(data)
