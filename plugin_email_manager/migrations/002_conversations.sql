-- Migration 2 (email_manager): conversations, and the step from a stored message to listThreads.
--
-- Tables: mail_threads and mail_thread_ids (written by conversations/placing.py), and
-- mail_thread_heads: per conversation and message type (and '*' for any type) its newest
-- message, which the default views of listThreads page through by index instead of grouping
-- every message of the user.
--
-- Function mail_thread_heads_refresh(threads bigint[]): recomputes the heads of these
--   conversations from their messages, the writers of one conversation taking turns. This is
--   its first text; migration 4 replaces it with one that also keeps mail_thread_counts. The
--   two texts overlap but stay apart: each is recorded, by checksum, where it ran, and a
--   database created today runs both (004_conversation_counts.sql holds the current one).
-- Statement triggers on mail_messages (a transition table allows one event per trigger), each
-- calling the function of its name, which refreshes the heads of:
--   mail_messages_heads_ins  AFTER INSERT  the new rows' conversations;
--   mail_messages_heads_del  AFTER DELETE  the deleted rows' conversations;
--   mail_messages_heads_upd  AFTER UPDATE  the conversations a row left or joined, or in which it
--                                          changed type, date or account (marking read: none).
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

CREATE TABLE mail_threads (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES mail_accounts (id) ON DELETE CASCADE,
    subject_keys text[] NOT NULL DEFAULT '{}',
    participants text[] NOT NULL DEFAULT '{}',
    has_root boolean NOT NULL DEFAULT false,
    first_date timestamptz,
    last_date timestamptz
);
CREATE INDEX mail_threads_account_idx ON mail_threads (account_id);
CREATE INDEX mail_threads_subject_keys_idx ON mail_threads USING gin (subject_keys);

CREATE TABLE mail_thread_ids (
    account_id bigint NOT NULL REFERENCES mail_accounts (id) ON DELETE CASCADE,
    message_id text NOT NULL,
    thread_id bigint NOT NULL REFERENCES mail_threads (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, message_id)
);
CREATE INDEX mail_thread_ids_thread_idx ON mail_thread_ids (thread_id);

CREATE TABLE mail_thread_heads (
    thread_id bigint NOT NULL,
    kind text NOT NULL,                  -- a message type, or '*' for any
    user_id bigint NOT NULL,
    account_id bigint NOT NULL,
    last_date timestamptz NOT NULL,      -- '-infinity' for a message without a date
    last_id bigint NOT NULL,
    PRIMARY KEY (thread_id, kind)
);
CREATE INDEX mail_thread_heads_user_idx
    ON mail_thread_heads (user_id, kind, last_date DESC, last_id DESC) INCLUDE (account_id, thread_id);

-- Recompute the heads of these conversations from their messages.
CREATE FUNCTION mail_thread_heads_refresh(threads bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF threads IS NULL OR cardinality(threads) = 0 THEN
        RETURN;
    END IF;
    -- Writers of one conversation take turns here; each statement below takes a new snapshot
    -- (READ COMMITTED), so the later one recomputes from every committed message.
    PERFORM 1 FROM mail_threads WHERE id = ANY (threads) ORDER BY id FOR UPDATE;
    DELETE FROM mail_thread_heads WHERE thread_id = ANY (threads);
    INSERT INTO mail_thread_heads (thread_id, kind, user_id, account_id, last_date, last_id)
    SELECT h.thread_id, h.kind, a.user_id, h.account_id, h.last_date, h.last_id
    FROM (
        (SELECT DISTINCT ON (m.thread_id, m.type) m.thread_id, COALESCE(m.type, 'other') AS kind,
                m.account_id, COALESCE(m.date, '-infinity') AS last_date, m.id AS last_id
         FROM mail_messages m WHERE m.thread_id = ANY (threads)
         ORDER BY m.thread_id, m.type, COALESCE(m.date, '-infinity') DESC, m.id DESC)
        UNION ALL
        (SELECT DISTINCT ON (m.thread_id) m.thread_id, '*', m.account_id,
                COALESCE(m.date, '-infinity'), m.id
         FROM mail_messages m WHERE m.thread_id = ANY (threads)
         ORDER BY m.thread_id, COALESCE(m.date, '-infinity') DESC, m.id DESC)
    ) h
    JOIN mail_accounts a ON a.id = h.account_id;
END $$;

-- Transition tables allow one event per trigger and no column list: three small triggers.
CREATE FUNCTION mail_messages_heads_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mail_thread_heads_refresh(
        (SELECT array_agg(DISTINCT thread_id) FROM new_rows WHERE thread_id IS NOT NULL));
    RETURN NULL;
END $$;

CREATE FUNCTION mail_messages_heads_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mail_thread_heads_refresh(
        (SELECT array_agg(DISTINCT thread_id) FROM old_rows WHERE thread_id IS NOT NULL));
    RETURN NULL;
END $$;

-- Only a change of conversation, type or date moves a head: marking read costs one join here.
CREATE FUNCTION mail_messages_heads_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mail_thread_heads_refresh((
        SELECT array_agg(DISTINCT v.t) FROM old_rows o JOIN new_rows n ON n.id = o.id,
               LATERAL (VALUES (o.thread_id), (n.thread_id)) AS v(t)
        WHERE v.t IS NOT NULL
          AND (o.thread_id IS DISTINCT FROM n.thread_id OR o.type IS DISTINCT FROM n.type
               OR o.date IS DISTINCT FROM n.date OR o.account_id IS DISTINCT FROM n.account_id)));
    RETURN NULL;
END $$;

CREATE TRIGGER mail_messages_heads_ins AFTER INSERT ON mail_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mail_messages_heads_ins();
CREATE TRIGGER mail_messages_heads_del AFTER DELETE ON mail_messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mail_messages_heads_del();
CREATE TRIGGER mail_messages_heads_upd AFTER UPDATE ON mail_messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mail_messages_heads_upd();
