-- Migration 11 (email_manager): each participant row also carries its message's conversation and
-- date, so that the conversations with someone (listForRecord, listThreads with participants and
-- no other filter) are found from the participants' index alone, never reading the messages:
-- 20,000 messages of a domain grouped by conversation in milliseconds (bench/list.py).
--
-- Columns thread_id and date of mail_message_participants (the message's; date as NULL stays).
-- Indexes mail_message_participants_address_idx and _domain_idx replaced by
--   mail_message_participants_address_threads_idx and _domain_threads_idx, which include them.
-- Function mail_messages_participants_ins() replaced: the new rows' thread and date too.
-- Function mail_messages_participants_upd() replaced, and its trigger
--   mail_messages_participants_upd made again to fire on thread_id and date too: new addresses
--   (a draft saved again) rewrite the rows; a new conversation (threads merged) or date updates them.
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

ALTER TABLE mail_message_participants ADD COLUMN thread_id bigint, ADD COLUMN date timestamptz;

UPDATE mail_message_participants p SET thread_id = m.thread_id, date = m.date
FROM mail_messages m WHERE m.id = p.message_id;

DROP INDEX mail_message_participants_address_idx;
DROP INDEX mail_message_participants_domain_idx;
CREATE INDEX mail_message_participants_address_threads_idx
    ON mail_message_participants (address, account_id) INCLUDE (message_id, thread_id, date);
CREATE INDEX mail_message_participants_domain_threads_idx
    ON mail_message_participants (domain, account_id) INCLUDE (message_id, thread_id, date);

CREATE OR REPLACE FUNCTION mail_messages_participants_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mail_message_participants (message_id, account_id, address, domain, thread_id, date)
    SELECT n.id, n.account_id, p.a, substring(p.a FROM '@([^@]*)$'), n.thread_id, n.date
    FROM new_rows n CROSS JOIN LATERAL mail_participants_of(n.from_addr, n.to_addrs, n.cc_addrs) AS p(a)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION mail_messages_participants_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.from_addr, OLD.to_addrs, OLD.cc_addrs, OLD.account_id)
        IS DISTINCT FROM (NEW.from_addr, NEW.to_addrs, NEW.cc_addrs, NEW.account_id) THEN
        DELETE FROM mail_message_participants WHERE message_id = NEW.id;
        INSERT INTO mail_message_participants (message_id, account_id, address, domain, thread_id, date)
        SELECT NEW.id, NEW.account_id, p.a, substring(p.a FROM '@([^@]*)$'), NEW.thread_id, NEW.date
        FROM mail_participants_of(NEW.from_addr, NEW.to_addrs, NEW.cc_addrs) AS p(a)
        ON CONFLICT DO NOTHING;
    ELSIF (OLD.thread_id, OLD.date) IS DISTINCT FROM (NEW.thread_id, NEW.date) THEN
        UPDATE mail_message_participants SET thread_id = NEW.thread_id, date = NEW.date
        WHERE message_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER mail_messages_participants_upd ON mail_messages;
CREATE TRIGGER mail_messages_participants_upd
    AFTER UPDATE OF from_addr, to_addrs, cc_addrs, account_id, thread_id, date ON mail_messages
    FOR EACH ROW EXECUTE FUNCTION mail_messages_participants_upd();
