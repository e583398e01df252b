-- Migration 3 (email_manager): the full-text column mail_messages.search_vector (filled by the
-- parse pass, read by search.py) and its indexes.
-- Below this header, the text is exactly as it first ran: databases record its checksum.

ALTER TABLE mail_messages ADD COLUMN IF NOT EXISTS search_vector tsvector;
CREATE INDEX IF NOT EXISTS mail_messages_search_idx ON mail_messages USING gin (search_vector);
-- messages stored but not yet indexed: searched by subject meanwhile (see search.py)
CREATE INDEX IF NOT EXISTS mail_messages_unindexed_idx ON mail_messages (account_id)
    WHERE search_vector IS NULL;
