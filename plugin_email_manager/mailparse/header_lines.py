"""Which lines of a header block are fields, read as leniently as real mail needs.

Two breakages make a parser stop reading a header block early and lose the fields after it:

- the obsolete syntax of RFC 5322 4.5.x, white space between a field name and its colon
  (``Subject   : x``);
- a line that is neither a field nor indented, usually a value a mailer wrapped without indenting
  its continuation (``To: a@x.org,`` then ``b@y.org``; a ``name="x.pdf"`` parameter on a line
  of its own).

compat32's feed parser ends the header block at either one and reads the rest as body text
(``MissingHeaderBodySeparatorDefect``). Here the first is a field like any other. The second is
inside the header block when a field follows it within a few lines and before the blank line;
otherwise it is the first line of a body that has no blank line before it, as the feed parser
says (the look-ahead is short on purpose: such a body may hold a ``Note: ...`` line further
down, and the body must stay the body). Inside the block, it continues the field before it
when that plainly is unfinished (a list ending in ``,`` or ``;``) or the line is a parameter
(``name="x.pdf"``), as enmime reads it; any other such line is junk and skipped, since adding it
to the field before would spoil that field (an address list read with a stray line in it).

Stage 1 reads its fields through ``field_name`` and ``continues_block``; stage 2 hands the feed
parser the message that ``mend`` rewrites, and only when the feed parser met such a line.
"""

from __future__ import annotations

import re

# a field name as RFC 5322 has it (printable ASCII but ':'), then white space (obsolete) and ':'
_FIELD = re.compile(rb"([\041-\071\073-\176]+)[ \t]*:")
_BOUNDARY = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))""", re.IGNORECASE)
_MESSAGE_TYPE = re.compile(rb"^content-type:\s*message/(rfc822|global|news)\b", re.IGNORECASE | re.MULTILINE)
_ENCODED = re.compile(rb"^content-transfer-encoding:\s*(?!(7|8)-?bit|binary)\S", re.IGNORECASE | re.MULTILINE)
_PARAMETER = re.compile(rb"[ \t]*[A-Za-z0-9_.-]+\*?[0-9]*\*?[ \t]*=")
_LOOK_AHEAD = 8  # lines: a value wrapped without indentation rarely takes more


def field_name(line: bytes) -> bytes | None:
    """The field name a header line starts with (obsolete white space before the colon allowed),
    or None for a line that is not a field (a continuation, junk, the blank line)."""
    m = _FIELD.match(line)
    return m.group(1) if m else None


def continues_field(previous: bytes, line: bytes) -> bool:
    """Whether a line inside the header block that is neither a field nor indented continues the
    field whose last line is ``previous`` (see the module doc), rather than being junk."""
    return previous.rstrip().endswith((b",", b";")) or _PARAMETER.match(line) is not None


def is_blank(line: bytes) -> bool:
    """The line that ends a header block: nothing but its line break (white space is a continuation)."""
    return not line.rstrip(b"\r\n")


def continues_block(lines: list[bytes], index: int) -> bool:
    """Whether the line at ``index`` (neither a field nor indented) lies inside the header block:
    a field follows it, within ``_LOOK_AHEAD`` lines and before the blank line ending the block
    or a boundary line (a multipart's preamble often follows its header block without a blank line)."""
    if lines[index].startswith(b"--"):
        return False
    for line in lines[index + 1 : index + 1 + _LOOK_AHEAD]:
        if is_blank(line) or line.startswith(b"--"):
            return False
        if line[:1] not in (b" ", b"\t") and field_name(line) is not None:
            return True
    return False


def mend(raw: bytes) -> bytes | None:
    """``raw`` with every header block (the message's, each MIME part's, each attached
    message's) written as the feed parser reads it: obsolete field names without the white space
    before their colon, lines inside a block indented as continuations. None when nothing
    needed it."""
    lines = raw.splitlines(keepends=True)
    separators: set[bytes] = set()
    out: list[bytes] = []
    changed = False
    i, in_block, block_start = 0, True, True
    while i < len(lines):
        if not in_block:
            line = lines[i]
            out.append(line)
            i += 1
            if line.startswith(b"--") and line.rstrip() in separators:
                in_block, block_start = True, True
            continue
        # one header block, up to its blank line (or the first body line when it has none)
        block: list[bytes] = []
        j = i
        while j < len(lines) and not is_blank(lines[j]):
            j += 1
        window = lines[i:j]
        for k, line in enumerate(window):
            if line[:1] in (b" ", b"\t"):
                block.append(line)
                continue
            m = _FIELD.match(line)
            if m is not None:
                if m.end() != len(m.group(1)) + 1:  # white space before the colon
                    line = m.group(1) + b":" + line[m.end() :]
                    changed = True
                block.append(line)
                continue
            if block_start and k == 0 and line.startswith(b"From "):
                block.append(line)  # an mbox envelope line: the feed parser's own business
                continue
            if continues_block(window, k):
                if block and continues_field(block[-1], line):
                    block.append(b" " + line)  # a continuation its mailer did not indent
                changed = True  # else junk, skipped
                continue
            j = i + k  # the body starts here, without a blank line before it
            break
        out.extend(block)
        head = b"".join(block)
        for m in _BOUNDARY.finditer(head):
            separators.add(b"--" + (m.group(1) or m.group(2)))
        i = j
        if j < len(lines) and is_blank(lines[j]):
            out.append(lines[j])
            i = j + 1
        # an attached message (unencoded) starts with a header block of its own
        in_block = bool(_MESSAGE_TYPE.search(head)) and not _ENCODED.search(head)
        block_start = False
    return b"".join(out) if changed else None
