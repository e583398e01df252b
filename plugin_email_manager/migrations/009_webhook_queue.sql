-- Migration 9 (email_manager): the webhook queue's indexes, and bounces' lookup of the original.
-- Below this header, the text is exactly as it first ran: databases record its checksum.

-- webhooks/queue.py: the rows still to deliver, by (webhook, account) in order, and by due time
CREATE INDEX IF NOT EXISTS mail_webhook_deliveries_queue_idx
    ON mail_webhook_deliveries (webhook_id, account_id, id) WHERE status = 'retrying';
CREATE INDEX IF NOT EXISTS mail_webhook_deliveries_due_idx
    ON mail_webhook_deliveries (next_at) WHERE status = 'retrying';
-- bounces.py: a report names its original by Message-ID among the sent messages
CREATE INDEX IF NOT EXISTS mail_messages_sent_message_id_idx
    ON mail_messages (message_id) WHERE type = 'sent';
