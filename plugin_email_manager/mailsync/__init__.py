"""Mail sync over IMAP: the client (``imap/``, the only package that talks to an IMAP server; its
docstring gives its layers) and the engine that keeps PostgreSQL in step with it: ``supervisor``
(leases, one worker per account), ``worker`` (syncs, IDLE), ``account_sync`` and ``folder_sync``
(the state machine), ``store`` (the SQL), ``pending_flags`` (changes made here on their way to the
server), ``parsepass`` (decoding and indexing after the mail is listable), ``gmail``.
"""
