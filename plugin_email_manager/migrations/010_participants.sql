-- Migration 10 (email_manager): the participants of each message, for mailMessages' `participants`
-- (list, listThreads) and listForRecord: "mail with ann@acme.test", "mail with anyone at acme.test".
--
-- Table mail_message_participants: one row per (message, address) of From, To and Cc (never Bcc
--   nor Reply-To), the address lower-cased as written (ann+news@ stays itself: exact match only),
--   its domain (after the last @) lower-cased, the message's account for the caller's scope;
--   indexed by (address, account) and (domain, account), each carrying the message id, so that a
--   lookup reads the index alone. Gone with its message (ON DELETE CASCADE).
-- Function mail_participants_of(from_addr, to_addrs, cc_addrs): the distinct lower-cased addresses.
-- Triggers on mail_messages, so that every writer (the sync, the outbox, drafts) keeps it:
--   mail_messages_participants_ins  AFTER INSERT, per statement (the new rows as a transition
--                                   table, one INSERT for a sync batch), calling the function
--                                   mail_messages_participants_ins();
--   mail_messages_participants_upd  AFTER UPDATE OF from_addr, to_addrs, cc_addrs, account_id, per
--                                   row (a draft saved again), calling mail_messages_participants_upd().
-- The messages already stored are filled in at the end.
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

CREATE TABLE mail_message_participants (
    message_id bigint NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
    account_id bigint NOT NULL,
    address text NOT NULL,
    domain text NOT NULL,
    PRIMARY KEY (message_id, address)
);
CREATE INDEX mail_message_participants_address_idx
    ON mail_message_participants (address, account_id) INCLUDE (message_id);
CREATE INDEX mail_message_participants_domain_idx
    ON mail_message_participants (domain, account_id) INCLUDE (message_id);

CREATE FUNCTION mail_participants_of(f jsonb, t jsonb, c jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT lower(a ->> 'address') FROM (
        SELECT f AS a WHERE jsonb_typeof(f) = 'object'
        UNION ALL SELECT jsonb_array_elements(t) WHERE jsonb_typeof(t) = 'array'
        UNION ALL SELECT jsonb_array_elements(c) WHERE jsonb_typeof(c) = 'array'
    ) x
    WHERE jsonb_typeof(a) = 'object' AND a ->> 'address' LIKE '%_@_%'
$$;

CREATE FUNCTION mail_messages_participants_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mail_message_participants (message_id, account_id, address, domain)
    SELECT n.id, n.account_id, p.a, substring(p.a FROM '@([^@]*)$')
    FROM new_rows n CROSS JOIN LATERAL mail_participants_of(n.from_addr, n.to_addrs, n.cc_addrs) AS p(a)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_messages_participants_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.from_addr, OLD.to_addrs, OLD.cc_addrs, OLD.account_id)
        IS NOT DISTINCT FROM (NEW.from_addr, NEW.to_addrs, NEW.cc_addrs, NEW.account_id) THEN
        RETURN NULL;
    END IF;
    DELETE FROM mail_message_participants WHERE message_id = NEW.id;
    INSERT INTO mail_message_participants (message_id, account_id, address, domain)
    SELECT NEW.id, NEW.account_id, p.a, substring(p.a FROM '@([^@]*)$')
    FROM mail_participants_of(NEW.from_addr, NEW.to_addrs, NEW.cc_addrs) AS p(a)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER mail_messages_participants_ins AFTER INSERT ON mail_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mail_messages_participants_ins();
CREATE TRIGGER mail_messages_participants_upd AFTER UPDATE OF from_addr, to_addrs, cc_addrs, account_id
    ON mail_messages FOR EACH ROW EXECUTE FUNCTION mail_messages_participants_upd();

INSERT INTO mail_message_participants (message_id, account_id, address, domain)
SELECT m.id, m.account_id, p.a, substring(p.a FROM '@([^@]*)$')
FROM mail_messages m CROSS JOIN LATERAL mail_participants_of(m.from_addr, m.to_addrs, m.cc_addrs) AS p(a)
ON CONFLICT DO NOTHING;
