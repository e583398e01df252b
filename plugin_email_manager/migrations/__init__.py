"""The email manager's hand-written SQL: indexes the list queries need, the conversation tables
and the triggers that keep the thread list in step, the full-text column. Each ``Migration``
runs once per database, in version order, after the collection tables exist
(``host.db.migrate``); a shipped one is never edited, only followed.

Each migration is one file here, ``NNN_<what>.sql``. The comment lines that open a file are its
header, for the reader (which tables, functions and triggers it creates, and why); the
migration's text is the rest, from the blank line after the header, byte for byte as it first
ran: every database records that text's checksum and refuses a changed one
(``tests/plugin_email_manager/test_migrations.py`` holds them).

Tables of our own (not collections: nothing generic reads or writes them):

- ``mail_threads``: one conversation of one account, with what the subject fallback compares
  (subject keys, participants other than the account itself, first/last dates, whether its
  first message is here).
- ``mail_thread_ids``: every Message-ID an account has seen, its own or only referenced by
  another (a missing parent), and ``gm:<X-GM-THRID>``, mapped to its conversation.
- ``mail_thread_heads``: per conversation and message type (and ``*`` for any type), its newest
  message; kept by statement triggers on ``mail_messages``. The default views (a folder type,
  or everything) page through it by index instead of grouping every message of the user.
- ``mail_thread_counts``: how many heads each (user, account, kind) has, as appended deltas, so
  the default views count their conversations without reading them.
"""

from __future__ import annotations

from importlib import resources

from host.api import Migration

PLUGIN = "email_manager"


def _sql(file: str) -> str:
    """A migration's text: its file without the header (the comment lines that open it)."""
    lines = resources.files(__name__).joinpath(file).read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if not line.startswith("--"))
    return "".join(lines[start:])


def migrations() -> list[Migration]:
    return [
        Migration(PLUGIN, 1, "message indexes", _sql("001_message_indexes.sql")),
        Migration(PLUGIN, 2, "conversations", _sql("002_conversations.sql")),
        Migration(PLUGIN, 3, "full-text search", _sql("003_full_text_search.sql")),
        Migration(PLUGIN, 4, "conversation counts, narrow rows", _sql("004_conversation_counts.sql")),
        # its first text failed where PostgreSQL lacks lz4; where it ran, it did the same as this one
        Migration(
            PLUGIN,
            5,
            "lz4 compression, parse-pending index",
            _sql("005_lz4_compression.sql"),
            replaces=("fbf865141a206e9c5774bcb9d0da3ab440073c21426ab6479095c18023d0a039",),
        ),
        Migration(PLUGIN, 6, "conversation lookups without a pending list", _sql("006_conversation_lookups.sql")),
        Migration(PLUGIN, 7, "the parse pass takes the newest mail first", _sql("007_parse_queue.sql")),
        Migration(PLUGIN, 8, "scheduled send: the lease of a message being sent", _sql("008_scheduled_send.sql")),
        Migration(PLUGIN, 9, "the webhook queue, bounces' originals", _sql("009_webhook_queue.sql")),
        Migration(PLUGIN, 10, "participants: each message's From, To and Cc addresses", _sql("010_participants.sql")),
        Migration(PLUGIN, 11, "participants carry their conversation and date", _sql("011_participant_threads.sql")),
        Migration(PLUGIN, 12, "labels: one name per user, which message carries which", _sql("012_labels.sql")),
        Migration(
            PLUGIN, 13, "headers first: text parts and attachments fetched after listing", _sql("013_headers_first.sql")
        ),
        Migration(PLUGIN, 15, "a search of a common word walks each account newest first", _sql("015_search_walk.sql")),
        Migration(
            PLUGIN, 16, "a label renamed or deleted changes the messages carrying it", _sql("016_label_renames.sql")
        ),
    ]
