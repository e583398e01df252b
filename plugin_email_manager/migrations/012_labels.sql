-- Migration 12 (email_manager): labels (issue "Labels and notes in the reader").
--
-- mail_message_labels (the collection mailLabels: a person's label definitions, name and colour):
--   a name is one label per user: duplicates made before are merged into the oldest, then the
--   unique index mail_message_labels_user_name_key holds it.
-- mail_labelled_messages (the collection mailMessageLabels): one row per (message, label name)
--   of mail_messages.labels, with the account's user, kept by two triggers on mail_messages, so
--   that every writer (mailMessages:update, the Gmail sync, a re-sync's restore) keeps it:
--   mail_messages_labels_ins  AFTER INSERT, per statement (the new rows as a transition table),
--                             calling mail_messages_labels_ins();
--   mail_messages_labels_upd  AFTER UPDATE OF labels, per row, when they changed, calling
--                             mail_messages_labels_upd().
--   Both go through mail_labels_apply(user, message, labels), which also gives each name applied
--   a definition when the person has none (no colour: the UI picks one from the name), so a label
--   read from Gmail or set through the API shows in the label list.
-- mail_messages.todo_due (the field todoDue, a day as YYYY-MM-DD) comes from the collection file.
-- The labels already on messages are indexed (and defined) at the end.
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

DELETE FROM mail_message_labels d USING mail_message_labels k
    WHERE d.user_id = k.user_id AND d.name = k.name AND d.id > k.id;
CREATE UNIQUE INDEX mail_message_labels_user_name_key ON mail_message_labels (user_id, name);

CREATE FUNCTION mail_labels_apply(uid bigint, message bigint, labels jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO mail_message_labels (user_id, name)
    SELECT uid, v FROM jsonb_array_elements_text(labels) v
    WHERE uid IS NOT NULL AND jsonb_typeof(labels) = 'array'
    ON CONFLICT (user_id, name) DO NOTHING;
    INSERT INTO mail_labelled_messages (user_id, mail_message_id, name)
    SELECT uid, message, v FROM jsonb_array_elements_text(labels) v
    WHERE uid IS NOT NULL AND jsonb_typeof(labels) = 'array';
$$;

CREATE FUNCTION mail_messages_labels_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mail_labels_apply(a.user_id, n.id, n.labels)
    FROM new_rows n JOIN mail_accounts a ON a.id = n.account_id
    WHERE jsonb_typeof(n.labels) = 'array' AND n.labels <> '[]'::jsonb;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_messages_labels_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM mail_labelled_messages WHERE mail_message_id = NEW.id;
    PERFORM mail_labels_apply((SELECT user_id FROM mail_accounts WHERE id = NEW.account_id), NEW.id, NEW.labels);
    RETURN NULL;
END $$;

CREATE TRIGGER mail_messages_labels_ins AFTER INSERT ON mail_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mail_messages_labels_ins();
CREATE TRIGGER mail_messages_labels_upd AFTER UPDATE OF labels ON mail_messages
    FOR EACH ROW WHEN (OLD.labels IS DISTINCT FROM NEW.labels) EXECUTE FUNCTION mail_messages_labels_upd();

SELECT mail_labels_apply(a.user_id, m.id, m.labels)
FROM mail_messages m JOIN mail_accounts a ON a.id = m.account_id
WHERE jsonb_typeof(m.labels) = 'array' AND m.labels <> '[]'::jsonb;
