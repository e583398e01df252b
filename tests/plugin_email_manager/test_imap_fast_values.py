"""IMAP values read without the tokenizer (issue 18: the first pass's FETCH responses) are the
values the tokenizer reads, and a response the tokenizer refuses is refused the same way: on a
FETCH response of the first pass and on generated segments made of the characters that decide
between the two paths (quotes, escapes, brackets, braces, white space but the space, NIL)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin_email_manager.mailsync.imap import wire


def tokenized(segments: list[bytes], literals: list[bytes]):
    """``parse_values`` as it was: every segment through the tokenizer."""
    stack: list[list] = [[]]
    for i, text in enumerate(segments):
        wire._tokens(text.rstrip(b" "), stack)
        if i < len(literals):
            stack[-1].append(literals[i])
    while len(stack) > 1:
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


def outcome(parse, segments, literals):
    try:
        return parse(segments, literals)
    except wire.ProtocolError as e:
        return ("ProtocolError", str(e))


FETCH = (
    b'* 1 FETCH (UID 1 FLAGS (\\Seen $Forwarded) INTERNALDATE "03-Dec-2026 20:41:46 +0000" RFC822.SIZE 14189 '
    b'MODSEQ (2) BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 5347 90 NIL NIL '
    b'NIL NIL)("application" "pdf" ("name*0*" "utf-8\'\'a%20b" "name*1" ".pdf") "<c@x>" NIL "base64" 300 NIL '
    b'("attachment" ("filename" "a \\"b\\".pdf")) NIL NIL) "mixed" ("boundary" "x") NIL NIL NIL) '
    b"BODY[HEADER.FIELDS (FROM TO SUBJECT)] "
)


def test_a_fetch_response_reads_the_same_by_both_paths():
    for segments in ([FETCH, b")"], [FETCH.replace(b'\\"', b"'"), b")"], [b"* 2 FETCH (UID 2 FLAGS ())"]):
        literals = [b"From: a@b\r\n\r\n"] if len(segments) > 1 else []
        assert outcome(wire.parse_values, segments, literals) == outcome(tokenized, segments, literals)
    # the common case does take the plain path (else this test would compare the tokenizer with itself)
    plain = FETCH.replace(b'\\"', b"'")
    assert wire._NOT_PLAIN.search(plain) is None and wire._OPEN_BRACKET.search(plain) is None


# the characters and pieces that decide between the plain path and the tokenizer
PIECES = [
    b"(",
    b")",
    b" ",
    b"  ",
    b'"',
    b"\\",
    b"NIL",
    b"nil",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\t",
    b"\r",
    b"a",
    b"UID",
    b"12",
    b"\\Seen",
    b"BODY[HEADER.FIELDS (FROM TO)]",
    b"[Gmail]/Sent Mail",
    b'"x y"',
    b'"a\\"b"',
    b'"\\\\"',
    b"\xc3\xa9",
    b"\x00",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=25).map(b"".join), min_size=1, max_size=3))
def test_generated_responses_read_the_same_by_both_paths(segments):
    literals = [b"lit%d" % i for i in range(len(segments) - 1)]
    assert outcome(wire.parse_values, segments, literals) == outcome(tokenized, segments, literals)
