-- Migration 16 (email_manager): renaming or deleting a label definition (mailLabels:update of
-- its name, mailLabels:destroy) changes the messages that carry it.
--
-- Function mail_label_definition_changed(), the trigger mail_message_labels_changed AFTER UPDATE
--   OF name OR DELETE ON mail_message_labels, per row: the user's messages whose labels hold the
--   old name get the new one (a rename) or lose it (a delete), sorted and unique as
--   mailMessages:update keeps them. On Gmail (a message with X-GM-THRID and a UID, gmail.ON_GMAIL)
--   the change is also noted in pending_flags ("X-GM-LABELS <name>": false / true, as
--   pending_flags.record_labels notes it), so the next sync pushes it and Gmail's older labels
--   never bring the old name back. mail_labelled_messages follows by migration 12's
--   mail_messages_labels_upd, as for any change of labels.
-- Index mail_labelled_messages_user_name_idx: the messages carrying one of a user's labels, found
--   without reading every message of the user.
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

CREATE FUNCTION mail_label_definition_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    renamed text := CASE WHEN TG_OP = 'UPDATE' THEN NEW.name END;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.name IS NOT DISTINCT FROM OLD.name THEN
        RETURN NULL;
    END IF;
    UPDATE mail_messages m SET
        labels = (SELECT coalesce(jsonb_agg(DISTINCT v ORDER BY v), '[]'::jsonb)
                  FROM (SELECT CASE WHEN e = OLD.name THEN renamed ELSE e END AS v
                        FROM jsonb_array_elements_text(m.labels) e) x
                  WHERE v IS NOT NULL),
        pending_flags = CASE WHEN m.uid IS NOT NULL AND m.provider_thread_id IS NOT NULL
            THEN coalesce(m.pending_flags, '{}'::jsonb) || jsonb_build_object('X-GM-LABELS ' || OLD.name, false)
                 || CASE WHEN renamed IS NULL THEN '{}'::jsonb
                         ELSE jsonb_build_object('X-GM-LABELS ' || renamed, true) END
            ELSE m.pending_flags END
    FROM mail_accounts a
    WHERE m.id IN (SELECT l.mail_message_id FROM mail_labelled_messages l
                   WHERE l.user_id = OLD.user_id AND l.name = OLD.name)
      AND a.id = m.account_id AND a.user_id = OLD.user_id
      AND jsonb_typeof(m.labels) = 'array' AND m.labels ? OLD.name;
    RETURN NULL;
END $$;

CREATE INDEX IF NOT EXISTS mail_labelled_messages_user_name_idx ON mail_labelled_messages (user_id, name);

CREATE TRIGGER mail_message_labels_changed AFTER UPDATE OF name OR DELETE ON mail_message_labels
    FOR EACH ROW EXECUTE FUNCTION mail_label_definition_changed();
