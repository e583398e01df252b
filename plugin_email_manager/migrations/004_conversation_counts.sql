-- Migration 4 (email_manager): how many conversations each view has, and narrower rows.
--
-- Table mail_thread_counts: per (user, account, kind) deltas whose sum is the number of heads,
--   i.e. the conversations of a view; only ever appended to, so writers never wait on each other.
-- Function mail_thread_counts_fold(user_ bigint): folds one user's deltas into one row per
--   (account, kind); called by the thread list when a reader finds many (threads_sql.py).
-- Function mail_thread_heads_refresh(threads bigint[]), today's text (replacing migration 2's):
--   recomputes the heads of these conversations, as before, and appends to mail_thread_counts
--   the difference between the heads it removed and those it added. Still called by the
--   triggers mail_messages_heads_ins / _del / _upd of migration 2.
--
-- Below this header, the text is exactly as it first ran: databases record its checksum.

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
