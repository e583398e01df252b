"""The email manager's hand-written SQL: indexes the list queries need, the conversation tables,
the full-text column. Each ``Migration`` runs once per database, in version order, after the
collection tables exist (``host.db.migrate``); a shipped one is never edited, only followed.

Tables of our own (not collections: nothing generic reads or writes them):

- ``mail_threads``: one conversation of one account, with what the subject fallback compares
  (subject keys, participants other than the account itself, first/last dates, whether its
  first message is here).
- ``mail_thread_ids``: every Message-ID an account has seen, its own or only referenced by
  another (a missing parent), and ``gm:<X-GM-THRID>``, mapped to its conversation.
- ``mail_thread_heads``: per conversation and message type (and ``*`` for any type), its newest
  message; kept by statement triggers on ``mail_messages``. The default views (a folder type,
  or everything) page through it by index instead of grouping every message of the user.
- ``mail_thread_counts``: how many heads each (user, account, kind) has, as appended deltas, so
  the default views count their conversations without reading them.
"""
from __future__ import annotations

from host.api import Migration

PLUGIN = "email_manager"

MESSAGE_INDEXES = """
-- the sync's upsert target; uid is NULL for a sent copy not yet seen on the server
CREATE UNIQUE INDEX IF NOT EXISTS mail_messages_folder_uid_key ON mail_messages (folder_id, uid);
-- Message-ID lookups (adopting local copies, replies). A hash index: a hostile Message-ID of
-- kilobytes would not fit a btree entry and would stop the sync; Message-IDs are near-unique.
CREATE INDEX IF NOT EXISTS mail_messages_message_id_hash ON mail_messages USING hash (message_id);
-- a conversation's messages (getThread, a row's counts, keeping heads)
CREATE INDEX IF NOT EXISTS mail_messages_thread_idx ON mail_messages (thread_id, date, id);
-- one folder type of an account, newest first (filtered lists, the generic list)
CREATE INDEX IF NOT EXISTS mail_messages_account_type_date_idx
    ON mail_messages (account_id, type, date DESC, id DESC) INCLUDE (thread_id);
-- unread mail: the badge and the unread filter read only these entries
CREATE INDEX IF NOT EXISTS mail_messages_unread_idx
    ON mail_messages (account_id, date DESC) INCLUDE (id, thread_id, type) WHERE NOT read;
"""

THREAD_TABLES = """
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
"""

SEARCH = """
ALTER TABLE mail_messages ADD COLUMN IF NOT EXISTS search_vector tsvector;
CREATE INDEX IF NOT EXISTS mail_messages_search_idx ON mail_messages USING gin (search_vector);
-- messages stored but not yet indexed: searched by subject meanwhile (see search.py)
CREATE INDEX IF NOT EXISTS mail_messages_unindexed_idx ON mail_messages (account_id)
    WHERE search_vector IS NULL;
"""

COUNTS = """
-- Keep the heap narrow: bodies, the search vector and long References lists go to TOAST past
-- 512 bytes a row instead of 2 kB, so scans read several times fewer pages for the same rows.
ALTER TABLE mail_messages SET (toast_tuple_target = 512);
-- heads churn with every new message: vacuum them often, so index-only scans stay index-only
ALTER TABLE mail_thread_heads SET (autovacuum_vacuum_scale_factor = 0.02,
                                   autovacuum_vacuum_insert_scale_factor = 0.02);

-- How many conversations each view has (a head of kind k = a conversation with a message of
-- type k): the sum of ``delta`` per (user, kind[, account]). Rows are only ever appended, by
-- the heads' refresh (no row is updated in place, so writers never wait on each other), and
-- folded together by ``mail_thread_counts_fold`` when a reader finds many.
CREATE TABLE mail_thread_counts (
    user_id bigint NOT NULL,
    account_id bigint NOT NULL,
    kind text NOT NULL,
    delta bigint NOT NULL
);
CREATE INDEX mail_thread_counts_idx ON mail_thread_counts (user_id, kind, account_id) INCLUDE (delta);
INSERT INTO mail_thread_counts (user_id, account_id, kind, delta)
SELECT user_id, account_id, kind, count(*) FROM mail_thread_heads GROUP BY 1, 2, 3;

-- Folding is safe alongside writers: it deletes only committed rows it sees and adds their sum.
CREATE FUNCTION mail_thread_counts_fold(user_ bigint) RETURNS void
LANGUAGE sql AS $$
    WITH d AS (DELETE FROM mail_thread_counts WHERE user_id = user_ RETURNING account_id, kind, delta)
    INSERT INTO mail_thread_counts (user_id, account_id, kind, delta)
    SELECT user_, account_id, kind, sum(delta) FROM d GROUP BY account_id, kind HAVING sum(delta) <> 0;
$$;

CREATE OR REPLACE FUNCTION mail_thread_heads_refresh(threads bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    gone jsonb;
BEGIN
    IF threads IS NULL OR cardinality(threads) = 0 THEN
        RETURN;
    END IF;
    -- Writers of one conversation take turns here; each statement below takes a new snapshot
    -- (READ COMMITTED), so the later one recomputes from every committed message.
    PERFORM 1 FROM mail_threads WHERE id = ANY (threads) ORDER BY id FOR UPDATE;
    WITH g AS (DELETE FROM mail_thread_heads WHERE thread_id = ANY (threads)
               RETURNING user_id, account_id, kind)
    SELECT jsonb_agg(jsonb_build_array(user_id, account_id, kind, n)) INTO gone
    FROM (SELECT user_id, account_id, kind, count(*) AS n FROM g GROUP BY 1, 2, 3) x;
    WITH added AS (
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
        JOIN mail_accounts a ON a.id = h.account_id
        RETURNING user_id, account_id, kind)
    INSERT INTO mail_thread_counts (user_id, account_id, kind, delta)
    SELECT user_id, account_id, kind, sum(n) FROM (
        SELECT user_id, account_id, kind, count(*) AS n FROM added GROUP BY 1, 2, 3
        UNION ALL
        SELECT (e ->> 0)::bigint, (e ->> 1)::bigint, e ->> 2, -(e ->> 3)::bigint
        FROM jsonb_array_elements(COALESCE(gone, '[]')) e) x
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
END $$;
"""


FAST_WRITES = """
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
"""

THREAD_LOOKUPS = """
-- Every batch of the sync looks conversations up by subject key. With GIN's fast update, new
-- keys wait in a pending list that each lookup reads from end to end until VACUUM folds it in:
-- during a first sync, a third of a batch's threading time. The keys of one conversation are
-- a handful of short strings: inserting them into the tree at once costs little.
ALTER INDEX mail_threads_subject_keys_idx SET (fastupdate = off);
"""

PARSE_QUEUE = """
-- The parse pass takes pending mail newest first by date (see parsepass.py), not by id: after a
-- first sync, whose rows go in newest first, id order would decode the oldest mail first.
CREATE INDEX IF NOT EXISTS mail_messages_parse_queue_idx
    ON mail_messages (account_id, (coalesce(date, '-infinity'::timestamptz)) DESC, id DESC)
    WHERE parse_state = 'pending';
DROP INDEX IF EXISTS mail_messages_parse_pending_idx;
"""


def migrations() -> list[Migration]:
    return [
        Migration(PLUGIN, 1, "message indexes", MESSAGE_INDEXES),
        Migration(PLUGIN, 2, "conversations", THREAD_TABLES),
        Migration(PLUGIN, 3, "full-text search", SEARCH),
        Migration(PLUGIN, 4, "conversation counts, narrow rows", COUNTS),
        # its first text failed where PostgreSQL lacks lz4; where it ran, it did the same as this one
        Migration(PLUGIN, 5, "lz4 compression, parse-pending index", FAST_WRITES,
                  replaces=("fbf865141a206e9c5774bcb9d0da3ab440073c21426ab6479095c18023d0a039",)),
        Migration(PLUGIN, 6, "conversation lookups without a pending list", THREAD_LOOKUPS),
        Migration(PLUGIN, 7, "the parse pass takes the newest mail first", PARSE_QUEUE),
    ]
