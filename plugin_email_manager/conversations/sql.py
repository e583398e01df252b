"""The SQL of placing (``placing``): loading messages to place, finding candidate
conversations, and writing the decisions of a batch. The tables and the triggers that keep the
thread list in step are migrations (``plugin_email_manager/migrations/``)."""

from __future__ import annotations

from plugin_email_manager.conversations.rules import MAX_PARTICIPANTS, MAX_SUBJECT_KEYS

LOAD = """
SELECT m.id, m.message_id, m.in_reply_to, m.provider_thread_id, m.subject, m.date, m.thread_id,
       ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(m.refs) = 'array' THEN m.refs END))
           AS refs,
       ARRAY(SELECT lower(e ->> 'address') FROM jsonb_array_elements(
                 CASE WHEN jsonb_typeof(m.to_addrs) = 'array' THEN m.to_addrs ELSE '[]' END ||
                 CASE WHEN jsonb_typeof(m.cc_addrs) = 'array' THEN m.cc_addrs ELSE '[]' END ||
                 CASE WHEN jsonb_typeof(m.from_addr) = 'object' THEN jsonb_build_array(m.from_addr)
                      ELSE '[]' END) e
             WHERE e ->> 'address' IS NOT NULL) AS addrs
FROM mail_messages m WHERE m.id = ANY($2::bigint[]) AND m.account_id = $1
"""
# Two index lookups, not one OR. Planned as one statement, the OR walked every conversation of
# the account through its account_id index, testing each against the batch's ids and keys;
# the planner prices ``&&`` with a few hundred keys as one comparison a row, so the key lookup
# is fenced off (MATERIALIZED) from the account test, leaving it the GIN index alone.
CANDIDATES = """
WITH by_key AS MATERIALIZED (
    SELECT id, account_id, subject_keys, participants, has_root, first_date, last_date FROM mail_threads
    WHERE subject_keys && $3::text[])
SELECT id, subject_keys, participants, has_root, first_date, last_date FROM mail_threads
WHERE id = ANY($2::bigint[]) AND account_id = $1
UNION ALL
SELECT id, subject_keys, participants, has_root, first_date, last_date FROM by_key
WHERE account_id = $1 AND last_date >= $4 AND first_date <= $5
"""
UPSERT_THREADS = """
INSERT INTO mail_threads AS t (id, account_id, subject_keys, participants, has_root, first_date, last_date)
SELECT x.id, $1, ARRAY(SELECT jsonb_array_elements_text(x.k::jsonb)),
       ARRAY(SELECT jsonb_array_elements_text(x.p::jsonb)), x.r, x.f, x.l
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::timestamptz[], $7::timestamptz[])
     AS x(id, k, p, r, f, l)
ON CONFLICT (id) DO UPDATE SET
    subject_keys = (ARRAY(SELECT DISTINCT unnest(t.subject_keys || EXCLUDED.subject_keys)))[1:{keys}],
    participants = (ARRAY(SELECT DISTINCT unnest(t.participants || EXCLUDED.participants)))[1:{people}],
    has_root = t.has_root OR EXCLUDED.has_root,
    first_date = LEAST(t.first_date, EXCLUDED.first_date),
    last_date = GREATEST(t.last_date, EXCLUDED.last_date)
""".format(keys=MAX_SUBJECT_KEYS, people=MAX_PARTICIPANTS)
MERGE_IDS = """
UPDATE mail_thread_ids i SET thread_id = x.w FROM unnest($1::bigint[], $2::bigint[]) AS x(l, w)
WHERE i.thread_id = x.l
"""
MERGE_MESSAGES = """
UPDATE mail_messages m SET thread_id = x.w FROM unnest($1::bigint[], $2::bigint[]) AS x(l, w)
WHERE m.thread_id = x.l
"""
SET_MESSAGES = """
UPDATE mail_messages m SET thread_id = x.t FROM unnest($1::bigint[], $2::bigint[]) AS x(id, t)
WHERE m.id = x.id AND m.thread_id IS DISTINCT FROM x.t
"""
SET_IDS = """
INSERT INTO mail_thread_ids (account_id, message_id, thread_id)
SELECT $1, x.k, x.t FROM unnest($2::text[], $3::bigint[]) AS x(k, t)
ON CONFLICT (account_id, message_id) DO UPDATE SET thread_id = EXCLUDED.thread_id
WHERE mail_thread_ids.thread_id <> EXCLUDED.thread_id
"""
