-- Migration 5 (email_manager): lz4 for the large columns of new rows where PostgreSQL has it,
-- and the index of mail still to parse (replaced by migration 7's).
-- Its first text failed where PostgreSQL lacks lz4; the migration declares that text's checksum
-- in ``replaces``. Below this header, the text is exactly as it first ran.

-- lz4 compresses (and decompresses) several times faster than pglz for a similar ratio on mail:
-- the first sync spent most of its INSERT time pglz-compressing ``raw``. Only new values use it.
-- A PostgreSQL built without lz4 (the embedded one, pgserver's) keeps pglz.
DO $$
BEGIN
    ALTER TABLE mail_messages ALTER COLUMN raw SET COMPRESSION lz4;
    ALTER TABLE mail_messages ALTER COLUMN text SET COMPRESSION lz4;
    ALTER TABLE mail_messages ALTER COLUMN html SET COMPRESSION lz4;
    ALTER TABLE mail_messages ALTER COLUMN search_vector SET COMPRESSION lz4;
    ALTER TABLE mail_attachments ALTER COLUMN content SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not built into this PostgreSQL: stored mail stays pglz-compressed';
END $$;
-- what the parse pass still has to do: its batches and each account's parsePending count read
-- these entries instead of every message of the account
CREATE INDEX IF NOT EXISTS mail_messages_parse_pending_idx ON mail_messages (account_id, id)
    WHERE parse_state = 'pending';
