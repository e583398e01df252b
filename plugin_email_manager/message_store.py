"""The SQL of messages as a person changes them: a conversation's messages, labels and the to-do
mark, moving between folders (Trash too) and deleting, a draft's state, an original's attachments. The sync's own
SQL is ``mailsync/store.py``; the list's, ``conversations/listing.py``; sent copies and drafts
being written, ``outbox.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Connection, Pool, Record

    from host.api import Params

# the user's own marks, field name -> column: set here only (labels also reach Gmail, through
# pending_flags.record_labels)
LOCAL_COLUMNS = {"labels": "labels", "todo": "todo", "todoDue": "todo_due"}


async def thread_message_ids(db: Pool, thread_id: int, scope: str, params: Params) -> list[int]:
    """The messages of a conversation within ``scope`` (a condition on alias ``t``), oldest first."""
    rows = await db.fetch(
        f"SELECT t.id FROM mail_messages t WHERE t.thread_id = {params.add(thread_id, 'bigint')} "
        f"AND {scope} ORDER BY t.date, t.id",
        *params.values,
    )
    return [r["id"] for r in rows]


async def set_local(db: Pool, ids: list[int], field: str, value: Any) -> None:
    """Set one of ``LOCAL_COLUMNS`` (labels are kept sorted and unique)."""
    if field not in LOCAL_COLUMNS:
        raise ValueError(f"{field!r} is not a local mark")
    await db.execute(
        f"UPDATE mail_messages SET {LOCAL_COLUMNS[field]} = $2 WHERE id = ANY($1::bigint[])",
        ids,
        sorted(set(value)) if field == "labels" else value,
    )


async def differing(db: Pool, ids: list[int], column: str, value: bool) -> list[int]:
    """Which of these messages have ``column`` (read, flagged) other than ``value``: those a
    change will change (events.py announces only them)."""
    if column not in ("read", "flagged"):
        raise ValueError(f"{column!r} is not a flag a person sets")
    rows = await db.fetch(
        f"SELECT id FROM mail_messages WHERE id = ANY($1::bigint[]) AND {column} IS DISTINCT FROM $2", ids, value
    )
    return [r["id"] for r in rows]


async def with_folders(db: Pool, ids: list[int]) -> list[Record]:
    """These messages with their UID, account and folder (name and type; None for a local draft)."""
    return await db.fetch(
        "SELECT m.id, m.uid, m.account_id, f.id AS folder_id, f.name AS folder, f.type FROM mail_messages m "
        "LEFT JOIN mail_folders f ON f.id = m.folder_id WHERE m.id = ANY($1::bigint[])",
        ids,
    )


async def folder_of_type(db: Pool, account_id: int, folder_type: str) -> Record | None:
    """The account's first folder of this type (``trash``, ``archive``, ...), or None."""
    return await db.fetchrow(
        "SELECT id, name, type, account_id FROM mail_folders WHERE account_id = $1 AND type = $2 ORDER BY id LIMIT 1",
        account_id,
        folder_type,
    )


async def folder_by_id(db: Pool, folder_id: int) -> Record | None:
    return await db.fetchrow("SELECT id, name, type, account_id FROM mail_folders WHERE id = $1", folder_id)


async def file_in(db: Pool, message_id: int, folder: Record, uid: int | None) -> bool:
    """The message is in ``folder`` now, with the UID the server gave it there (COPYUID) and the
    folder's type, so the next sync of that folder finds it stored. False when the folder holds
    that UID already (the sync was first)."""
    kept = await db.fetchval(
        "UPDATE mail_messages SET folder_id = $2, uid = $3, type = $4 WHERE id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM mail_messages WHERE folder_id = $2 AND uid = $3) RETURNING id",
        message_id,
        folder["id"],
        uid,
        folder["type"],
    )
    return kept is not None


async def delete(db: Pool, ids: list[int]) -> None:
    await db.execute("DELETE FROM mail_messages WHERE id = ANY($1::bigint[])", ids)


async def draft_state(db: Pool, message_id: int) -> Record | None:
    """A draft's ``outbox`` (NULL once the server accepted it), account and Message-ID."""
    return await db.fetchrow("SELECT outbox, account_id, message_id FROM mail_messages WHERE id = $1", message_id)


async def attachments_of(db: Pool, message_id: int) -> list[dict]:
    """A message's attachments with their bytes, as compose takes them (a forward carries them)."""
    rows = await db.fetch(
        "SELECT filename, content_type, content, content_id, inline FROM mail_attachments "
        "WHERE mail_message_id = $1 ORDER BY id",
        message_id,
    )
    return [
        {
            "filename": r["filename"],
            "contentType": r["content_type"],
            "content": bytes(r["content"] or b""),
            **({"contentId": r["content_id"], "inline": r["inline"]} if r["content_id"] else {}),
        }
        for r in rows
    ]


async def account_addresses(db: Pool, scope: str, params: Params) -> set[str]:
    """The addresses of the accounts within ``scope`` (a condition on alias ``t`` of mail_accounts),
    lower-cased: a reply-all leaves them out."""
    rows = await db.fetch(f"SELECT t.email, t.username FROM mail_accounts t WHERE {scope}", *params.values)
    return {v.lower() for r in rows for v in (r["email"], r["username"]) if v and "@" in v}


# ---------------------------------------------------------------- a person's marks across a re-sync

# labels, the to-do mark (and its due day) and notes of an account's messages that have a
# Message-ID, keyed by folder and Message-ID (a re-sync gives every message a new row; the folders stay)
_MARKS_SQL = """
SELECT coalesce(jsonb_agg(jsonb_build_object(
    'folder', m.folder_id, 'messageId', m.message_id, 'labels', m.labels, 'todo', m.todo, 'todoDue', m.todo_due,
    'notes', coalesce((SELECT jsonb_agg(jsonb_build_object('userId', n.user_id, 'content', n.content,
                                                           'createdAt', n.created_at) ORDER BY n.id)
                       FROM mail_message_notes n WHERE n.mail_message_id = m.id), '[]'::jsonb))), '[]'::jsonb)
FROM mail_messages m
WHERE m.account_id = $1 AND m.message_id IS NOT NULL AND m.outbox IS NULL AND m.folder_id IS NOT NULL
  AND (jsonb_array_length(coalesce(m.labels, '[]')) > 0 OR m.todo OR m.todo_due IS NOT NULL
       OR EXISTS (SELECT 1 FROM mail_message_notes n WHERE n.mail_message_id = m.id))
"""


async def marks_of(conn: Pool | Connection, account_id: int) -> list[dict]:
    """The account's marks, for ``restore_marks`` after its messages were fetched again."""
    return await conn.fetchval(_MARKS_SQL, account_id)


async def restore_marks(db: Pool, account_id: int, marks: list[dict]) -> int:
    """Puts the marks of ``marks_of`` back on the messages now stored with the same folder and
    Message-ID (labels joined with any set meanwhile); answers how many messages got theirs."""
    async with db.acquire() as conn, conn.transaction():
        matched = await conn.fetch(
            "WITH s AS (SELECT * FROM jsonb_to_recordset($2::jsonb) "
            'AS s(folder bigint, "messageId" text, labels jsonb, todo boolean, "todoDue" text, notes jsonb)), '
            "u AS (UPDATE mail_messages m SET "
            "labels = (SELECT coalesce(jsonb_agg(DISTINCT v ORDER BY v), '[]') "
            "FROM jsonb_array_elements_text(coalesce(m.labels, '[]') || coalesce(s.labels, '[]')) v), "
            'todo = m.todo OR coalesce(s.todo, false), todo_due = coalesce(m.todo_due, s."todoDue") '
            'FROM s WHERE m.account_id = $1 AND m.folder_id = s.folder AND m.message_id = s."messageId" '
            "RETURNING m.id, m.folder_id, m.message_id) "
            "SELECT DISTINCT ON (u.folder_id, u.message_id) u.id, s.notes FROM u "
            'JOIN s ON s.folder = u.folder_id AND s."messageId" = u.message_id '
            "ORDER BY u.folder_id, u.message_id, u.id",
            account_id,
            marks,
        )
        await conn.execute(
            "INSERT INTO mail_message_notes (user_id, mail_message_id, content, created_at) "
            'SELECT n."userId", x.id, n.content, n."createdAt" '
            "FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, notes jsonb) CROSS JOIN LATERAL "
            'jsonb_to_recordset(x.notes) AS n("userId" bigint, content text, "createdAt" timestamptz)',
            [{"id": r["id"], "notes": r["notes"]} for r in matched if r["notes"]],
        )
    return len(matched)
