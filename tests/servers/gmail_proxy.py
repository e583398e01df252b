"""Gmail's IMAP, as far as the sync sees it, in front of a real Dovecot.

Gmail cannot be reached from here, and no server speaks its extension (X-GM-EXT-1), so this proxy
makes a Dovecot mailbox look like a Gmail one. Dovecot stores and serves the mail; the proxy only
rewrites what Gmail says differently:

- CAPABILITY gains ``X-GM-EXT-1`` and loses ``QRESYNC`` (Gmail offers CONDSTORE, not QRESYNC);
- LIST: the special-use attributes are Gmail's: ``[Gmail]/All Mail`` is ``\\All``,
  ``[Gmail]/Spam`` ``\\Junk``, ``[Gmail]/Trash`` ``\\Trash``, ``[Gmail]/Sent Mail`` ``\\Sent``,
  ``[Gmail]/Drafts`` ``\\Drafts``; Dovecot's own ones are taken off;
- FETCH: a message's labels and thread live in Dovecot as keywords (``GmInbox`` is the label
  ``\\Inbox``, ``GmSent`` ``\\Sent``, ``GmL-Receipts`` the label ``Receipts``, ``GmThr-42`` the
  thread 42). Asked for ``X-GM-LABELS``/``X-GM-THRID``/``X-GM-MSGID``, the proxy asks Dovecot for
  the rest and answers those items from the keywords, which it hides from FLAGS. A label change
  is a keyword change, so it moves the message's MODSEQ, as on Gmail. A label's characters that
  no keyword may hold are written ``=XX`` (``GmL-Project=20X`` is the label ``Project X``);
- STORE: ``UID STORE <uids> +X-GM-LABELS ("Project X" \\Starred)`` (or ``-``) becomes the STORE of
  those keywords, so a label applied by a client is on the server, as Gmail keeps it.

A test plays Gmail's part of the bargain: it APPENDs each message to All Mail with its keywords
(and to INBOX as well when it carries ``\\Inbox``), and changes labels with STORE on Dovecot.

    proxy = GmailProxy(dovecot.port).start()   ... connect to proxy.port ...   proxy.stop()
"""

from __future__ import annotations

import re

from tests.servers.imap_proxy import ImapProxy

GMAIL_SPECIAL_USE = {
    "[Gmail]/All Mail": "\\All",
    "[Gmail]/Spam": "\\Junk",
    "[Gmail]/Trash": "\\Trash",
    "[Gmail]/Sent Mail": "\\Sent",
    "[Gmail]/Drafts": "\\Drafts",
}
SYSTEM_LABELS = {
    "GmInbox": "\\Inbox",
    "GmSent": "\\Sent",
    "GmDraft": "\\Draft",
    "GmImportant": "\\Important",
    "GmStarred": "\\Starred",
}

_GM_ITEMS = re.compile(rb" ?X-GM-(?:MSGID|THRID|LABELS)\b", re.I)
_GM_RAW = re.compile(rb"\bX-GM-RAW\b", re.I)
_SPECIAL_USE = re.compile(rb" ?\\(?:All|Archive|Drafts|Flagged|Junk|Sent|Trash|Important)\b", re.I)
_FETCH = re.compile(rb"^\* \d+ FETCH \(", re.I)
_UID = re.compile(rb"\bUID (\d+)", re.I)
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)", re.I)
_STORE_LABELS = re.compile(rb"^(\S+ UID STORE \S+ )([+-])X-GM-LABELS(\.SILENT)? \((.*)\)\r\n$", re.I)
_LABEL_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"|([^\s()"]+)')
_KEYWORD_UNSAFE = re.compile(r"[^A-Za-z0-9&,+.-]")


def keyword(label: str) -> str:
    """The Dovecot keyword that stores a Gmail label (a system label's own, else ``GmL-<name>``)."""
    system = {v.lower(): k for k, v in SYSTEM_LABELS.items()}
    if label.lower() in system:
        return system[label.lower()]
    return "GmL-" + _KEYWORD_UNSAFE.sub(lambda m: "".join(f"={b:02X}" for b in m.group().encode()), label)


def _label(keyword: str) -> str:
    if keyword in SYSTEM_LABELS:
        return SYSTEM_LABELS[keyword]
    return re.sub(r"(?:=[0-9A-F]{2})+", lambda m: bytes.fromhex(m.group().replace("=", "")).decode(), keyword[4:])


def _quoted(label: str) -> bytes:
    return b'"' + label.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


def _list(text: bytes) -> bytes:
    m = re.match(rb"^(\* (?:LIST|LSUB) \()([^)]*)(\) \S+ )(.*?)(\r\n)$", text, re.S)
    if not m:
        return text
    name = m.group(4).decode()
    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\") if name.startswith('"') else name
    attrs = _SPECIAL_USE.sub(b"", m.group(2)).strip()
    if name in GMAIL_SPECIAL_USE:
        attrs = (attrs + b" " + GMAIL_SPECIAL_USE[name].encode()).strip()
    return m.group(1) + attrs + m.group(3) + m.group(4) + m.group(5)


def _fetch(parts: list[bytes]) -> list[bytes]:
    """The text parts of one FETCH response (literals in between stay as they are)."""
    texts = range(0, len(parts), 2)
    uid = next((int(m.group(1)) for i in texts if (m := _UID.search(parts[i]))), None)
    keywords: list[str] | None = None  # None: the response carries no FLAGS
    for i in texts:
        m = _FLAGS.search(parts[i])
        if m:
            flags = m.group(1).decode().split()
            keywords = [f for f in flags if f.startswith("Gm")]
            kept = " ".join(f for f in flags if not f.startswith("Gm")).encode()
            parts[i] = parts[i][: m.start(1)] + kept + parts[i][m.end(1) :]
    if uid is None or keywords is None:
        return parts
    labels = [_label(k) for k in keywords if k in SYSTEM_LABELS or k.startswith("GmL-")]
    thread = next((int(k[len("GmThr-") :]) for k in keywords if k.startswith("GmThr-")), 10_000_000 + uid)
    items = b"X-GM-MSGID %d X-GM-THRID %d X-GM-LABELS (%s) " % (
        20_000_000 + uid,
        thread,
        b" ".join(_quoted(label) for label in labels),
    )
    m = _FETCH.match(parts[0])
    parts[0] = parts[0][: m.end()] + items + parts[0][m.end() :]
    return parts


class GmailProxy(ImapProxy):
    def __init__(self, target_port: int):
        super().__init__(target_port, drop={"QRESYNC"}, add=("X-GM-EXT-1",))

    def rewrite_command(self, line: bytes) -> bytes:
        """A FETCH's X-GM items are the proxy's to answer, not Dovecot's; a label STORE is a
        keyword STORE; a SEARCH's ``X-GM-RAW`` (Gmail's search syntax) is Dovecot's ``TEXT``, the
        same for one word."""
        if re.search(rb"\bSEARCH\b", line, re.I):
            return _GM_RAW.sub(b"TEXT", line)
        if m := _STORE_LABELS.match(line):
            names = [q.replace(b'\\"', b'"').replace(b"\\\\", b"\\") if q else a for q, a in _LABEL_ARG.findall(m[4])]
            keywords = " ".join(keyword(n.decode()) for n in names).encode()
            return m[1] + m[2] + b"FLAGS" + (m[3] or b"") + b" (" + keywords + b")\r\n"
        return _GM_ITEMS.sub(b"", line) if re.search(rb"\bFETCH\b", line, re.I) else line

    def rewrite_response(self, parts: list[bytes]) -> list[bytes]:
        if _FETCH.match(parts[0]):
            return _fetch(parts)
        if re.match(rb"^\* (?:LIST|LSUB) ", parts[0], re.I):
            return [_list(parts[0]), *parts[1:]]
        return super().rewrite_response(parts)
