"""Conversations: which thread each stored message belongs to.

- ``rules``: what makes two messages one conversation (Message-ID, In-Reply-To, References,
  Gmail's thread id, then a careful subject fallback); pure decisions.
- ``subjects``: what the fallback compares (a subject without Re:/Fwd: prefixes and list tags,
  in many languages), and the Re:/Fwd: subjects of a reply or a forward.
- ``placing``: assigning messages to conversations in the database, in the caller's transaction.
- ``sql``: the statements ``placing`` runs.
- ``listing``: the SQL behind ``listThreads`` (which conversations are on a page).

The tables, and the triggers that carry a placed message on to the thread list, are migrations
(``plugin_email_manager/migrations/002_conversations.sql``, ``004_conversation_counts.sql``).
"""

from __future__ import annotations

from plugin_email_manager.conversations.placing import assign_threads, lock_account, rebuild_threads, thread_ids_for
from plugin_email_manager.conversations.subjects import forward_subject, normalize_subject, reply_subject

__all__ = [
    "assign_threads",
    "forward_subject",
    "lock_account",
    "normalize_subject",
    "rebuild_threads",
    "reply_subject",
    "thread_ids_for",
]
