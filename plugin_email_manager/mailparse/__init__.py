"""Decoding raw messages, in two stages.

- ``parse_headers(raw)`` (stage 1, ``headers``): the fields a message list needs; fast enough to
  run inline while syncing, so a message is listable as soon as it is fetched.
- ``parse_message(raw)`` (stage 2, ``body``): text, HTML, snippet and attachments; slower, run in
  the background parse pass, off the event loop through ``pool.ParsePool``.

Both never raise: what could not be read is listed in ``errors``.
"""

from __future__ import annotations

from .body import ParsedMessage, parse_message
from .charsets import decode_text, decode_words
from .headers import normalize_msgid, parse_date, parse_headers, parse_msgid_list
from .snippets import html_to_text, make_snippet

__all__ = [
    "ParsedMessage",
    "decode_text",
    "decode_words",
    "html_to_text",
    "make_snippet",
    "normalize_msgid",
    "parse_date",
    "parse_headers",
    "parse_message",
    "parse_msgid_list",
]
