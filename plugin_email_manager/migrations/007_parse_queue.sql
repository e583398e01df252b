-- Migration 7 (email_manager): the parse pass's queue index, newest mail first.
-- Below this header, the text is exactly as it first ran: databases record its checksum.

-- The parse pass takes pending mail newest first by date (see parsepass.py), not by id: after a
-- first sync, whose rows go in newest first, id order would decode the oldest mail first.
CREATE INDEX IF NOT EXISTS mail_messages_parse_queue_idx
    ON mail_messages (account_id, (coalesce(date, '-infinity'::timestamptz)) DESC, id DESC)
    WHERE parse_state = 'pending';
DROP INDEX IF EXISTS mail_messages_parse_pending_idx;
