-- Migration 13 (email_manager): a headers-first sync (issue 18).
--
-- A first sync lists each message from its header fields and BODYSTRUCTURE, without its bytes
-- (mail_messages.raw stays NULL), then fetches the text parts alone (mailsync/bodies.py):
--   mail_messages.text_structure  the multiparts and text parts of the message (section, type,
--                                 charset, transfer encoding), what the second pass fetches;
--   mail_messages.texts           those text parts as a MIME message of their own, which the
--                                 parse pass decodes and indexes when raw is NULL;
--   mail_attachments.section      the IMAP body section of an attachment listed from the
--                                 structure, and encoding its transfer encoding: its bytes
--                                 (content) are fetched when first downloaded, shown or forwarded.
-- Index mail_messages_bodies_pending_idx: per folder, newest UID first, the listed messages whose
--   text is not fetched yet (the second pass's queue; syncProgress.bodiesPending counts them).
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

ALTER TABLE mail_messages ADD COLUMN IF NOT EXISTS text_structure jsonb;
ALTER TABLE mail_messages ADD COLUMN IF NOT EXISTS texts bytea;
ALTER TABLE mail_attachments ADD COLUMN IF NOT EXISTS section text;
ALTER TABLE mail_attachments ADD COLUMN IF NOT EXISTS encoding text;
CREATE INDEX IF NOT EXISTS mail_messages_bodies_pending_idx
    ON mail_messages (folder_id, uid DESC)
    WHERE raw IS NULL AND texts IS NULL AND parse_state = 'pending' AND uid IS NOT NULL;
