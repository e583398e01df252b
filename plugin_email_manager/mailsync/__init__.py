"""Mail sync over IMAP: the client (``imap``) and the engine that keeps PostgreSQL in step with it.

``imap`` is the only module that talks to an IMAP server; its helpers are ``imap_wire`` (the byte
stream and response parser), ``imap_codec`` (UID sets, modified UTF-7, dates), ``imap_auth``
(LOGIN, XOAUTH2), ``imap_folders`` (LIST, folder kinds) and ``imap_fetch`` (fetched messages).
"""
