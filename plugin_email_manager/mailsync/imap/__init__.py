"""The IMAP client of the sync engine: IMAP4rev1 spoken on asyncio streams, every call bounded.

Why not aioimaplib's protocol, as first planned (see ../shared/LAB.md): its parser is quadratic
on a big FETCH; it keys pending commands by name, so two FETCHes cannot be in flight at once; a
dropped connection leaves pending commands waiting for their timeout; it has no STARTTLS and its
XOAUTH2 hangs on a refused token. So this package speaks IMAP itself; ``session`` tells how a
caller uses it:

    from plugin_email_manager.mailsync.imap import connect

    session = await connect(host, port, "tls")
    await session.login(user, password)         # or authenticate_xoauth2(user, token)
    info = await session.select("INBOX", qresync=(uidvalidity, modseq))
    async for message in session.fetch_messages(uids): ...
    await session.logout()

The modules are layers, bottom up; each imports only modules before it in this list, at the top
of the file (``tests/plugin_email_manager/test_imap_layers.py`` holds them to it):

1. ``wire``      the byte stream: reading whole responses (lines, literals), parsing their values
2. ``codec``     encodings: UID sets, modified UTF-7, dates, quoted strings, flags
3. ``bodystructure`` what a BODYSTRUCTURE says: attachments, and the sections holding the text
4. ``folders``   what a LIST answer says: ``Folder``, and which kind of folder each one is
5. ``fetch``     what a FETCH answer says: ``FetchedMessage``, ``FlagUpdate``
6. ``protocol``  the connection: command tags, literals, untagged bookkeeping, LOGIN, XOAUTH2, LOGOUT
7. ``session``   ``connect`` and ``ImapSession``: SELECT, SEARCH, FETCH, STORE, APPEND, MOVE, IDLE

and this package's ``__init__`` last, naming what the rest of the plugin uses. Nothing here
imports aiohttp: the client knows nothing of HTTP.
"""

from __future__ import annotations

# The errors live in the plugin's one error tree (each with its ``code`` and HTTP status); they
# are named here too so that a caller finds beside ``connect`` what it raises.
from plugin_email_manager.errors import ImapCommandFailed, ImapUnavailable, MailAuthFailed
from plugin_email_manager.mailsync.imap.codec import encode_mutf7, search_date
from plugin_email_manager.mailsync.imap.fetch import FetchedMessage, FlagUpdate
from plugin_email_manager.mailsync.imap.folders import Folder, folder_type
from plugin_email_manager.mailsync.imap.session import ImapSession, SelectInfo, connect
from plugin_email_manager.mailsync.imap.wire import ProtocolError

__all__ = [
    "connect",
    "ImapSession",
    "SelectInfo",
    "Folder",
    "folder_type",
    "FetchedMessage",
    "FlagUpdate",
    "encode_mutf7",
    "search_date",
    "ImapUnavailable",
    "ImapCommandFailed",
    "MailAuthFailed",
    "ProtocolError",
]
