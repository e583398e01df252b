-- Migration 8 (email_manager): scheduled send and undo send (plugin_email_manager/sending.py).
-- Below this header, the text is exactly as it first ran: databases record its checksum.
--
-- Columns of mail_messages that only sending.py reads and writes (send_at and send_error are
-- collection fields, sendAt and sendError):
-- - send_lease_owner, send_lease_until: the process sending a due message, and until when; a
--   lease that lapses while the message is 'sending' means that process died;
-- - send_smtp_at: when that process began talking to the SMTP server (NULL: not yet, so a
--   lapsed lease may give the message back to 'scheduled'; set: 'unknown', never re-sent);
-- - send_original_id, send_forwarded: the message a held reply or forward answers, flagged
--   answered or forwarded once it is sent.
-- Indexes: mail_messages_due_idx (the job's claim of due messages), mail_messages_sending_idx
-- (the job's look for lapsed leases).

ALTER TABLE mail_messages
    ADD COLUMN IF NOT EXISTS send_lease_owner text,
    ADD COLUMN IF NOT EXISTS send_lease_until timestamptz,
    ADD COLUMN IF NOT EXISTS send_smtp_at timestamptz,
    ADD COLUMN IF NOT EXISTS send_original_id bigint,
    ADD COLUMN IF NOT EXISTS send_forwarded boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS mail_messages_due_idx ON mail_messages (send_at) WHERE outbox = 'scheduled';
CREATE INDEX IF NOT EXISTS mail_messages_sending_idx ON mail_messages (send_lease_until)
    WHERE outbox = 'sending' AND send_lease_until IS NOT NULL;
