"""Actions on messages: open one (sanitized HTML, attachments), read state, delete.

Read state is written here at once and pushed to the server in the same call; when the server
can't be reached the change stays noted and the next sync pushes it (``mailsync.pending_flags``
owns that), so it is never lost and never overwritten by the server's older state meanwhile.
"""
from __future__ import annotations

import logging

from host.api import ActionContext, answer_row
from host.errors import BadRequest
from plugin_email_manager import connections, runtime
from plugin_email_manager.mailsync import pending_flags
from plugin_email_manager.attachments import inline_url
from plugin_email_manager.sanitize import sanitize_html, text_to_html

log = logging.getLogger(__name__)

ATTACHMENT_COLUMNS = "id, mail_message_id, filename, content_type, size, content_id, inline"


def attachment_json(row) -> dict:
    return {"id": row["id"], "filename": row["filename"], "contentType": row["content_type"], "size": row["size"],
            "contentId": row["content_id"], "inline": row["inline"]}


async def full_messages(ctx: ActionContext, ids: list[int], order: str = "m.date, m.id") -> list[dict]:
    """Messages as ``get`` answers them: every field, sanitized HTML, attachments."""
    query = f"SELECT m.* FROM mail_messages m WHERE m.id = ANY($1::bigint[]) ORDER BY {order}"
    records = await ctx.db.fetch(query, ids)
    pending = [r["id"] for r in records if r["parse_state"] == "pending"]
    if pending:  # not decoded yet: do it now rather than show an empty body
        await runtime.of(ctx.host).parse_pass.decode_now(pending)
        records = await ctx.db.fetch(query, ids)
    atts = await ctx.db.fetch(f"SELECT {ATTACHMENT_COLUMNS} FROM mail_attachments "
                              "WHERE mail_message_id = ANY($1::bigint[]) ORDER BY id", ids)
    by_message: dict[int, list] = {}
    for a in atts:
        by_message.setdefault(a["mail_message_id"], []).append(a)
    out = []
    for record in records:
        row = answer_row(ctx.collection, record)
        mine = by_message.get(record["id"], [])
        cids = {a["content_id"].strip("<>"): a["id"] for a in mine if a["content_id"]}
        row["attachments"] = [attachment_json(a) for a in mine]
        row.update(render_body(ctx.host, record["html"], record["text"], cids))
        out.append(row)
    return out


def render_body(host, html: str | None, text: str | None, cids: dict[str, int]) -> dict:
    """The HTML a reader may show: sanitized, remote content held back, cid: images signed."""
    if html:
        clean = sanitize_html(html, cid_url=lambda cid: inline_url(host, cids[cid]) if cid in cids else None)
        return {"html": clean.html, "hasRemoteContent": clean.has_remote_content, "text": text}
    return {"html": text_to_html(text or "") if text else None, "hasRemoteContent": False, "text": text}


async def get(ctx: ActionContext) -> dict:
    ids = await ctx.in_scope()
    if len(ids) != 1:
        raise BadRequest("'filterByTk' must name one message.", code="INVALID_VALUE", field="filterByTk")
    return {"data": (await full_messages(ctx, ids))[0]}


FLAG_COLUMNS = ("read", "flagged")  # the server flags a person changes (sending sets the others)


async def set_flag(ctx: ActionContext, ids: list[int], column: str, value: bool) -> None:
    """Set a flag column here and on the server (``pending_flags`` keeps it until the server has it)."""
    changed = await pending_flags.record(ctx.db, ids, column, value)
    if changed:
        await pending_flags.push_now(ctx.host, changed)
    await ctx.host.badges_changed(ctx.user.id)


async def mark_read(ctx: ActionContext) -> dict:
    ids = await ctx.in_scope()
    await set_flag(ctx, ids, "read", True)
    return {"data": ids}


async def mark_unread(ctx: ActionContext) -> dict:
    ids = await ctx.in_scope()
    await set_flag(ctx, ids, "read", False)
    return {"data": ids}


LOCAL_FIELDS = ("labels", "todo")  # the user's own marks, not IMAP flags


async def update(ctx: ActionContext) -> dict:
    """What a person changes on a message: ``read`` and ``flagged`` (here and on the server),
    ``labels`` and the ``todo`` mark (here)."""
    unknown = set(ctx.values) - set(FLAG_COLUMNS) - set(LOCAL_FIELDS)
    if unknown or not ctx.values:
        name = sorted(unknown)[0] if unknown else "read"
        raise BadRequest(f"Only read, flagged, labels and todo can be changed ({name!r} cannot).",
                         code="READ_ONLY", field=name)
    for column, value in ctx.values.items():
        if column == "labels":
            if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value):
                raise BadRequest("'labels' must be a list of names.", code="INVALID_VALUE", field=column)
        elif not isinstance(value, bool):
            raise BadRequest(f"'{column}' must be true or false.", code="INVALID_VALUE", field=column)
    ids = await ctx.in_scope()
    for column, value in ctx.values.items():
        if column in FLAG_COLUMNS:
            await set_flag(ctx, ids, column, value)
        else:
            await ctx.db.execute(f"UPDATE mail_messages SET {column} = $2 WHERE id = ANY($1::bigint[])", ids,
                                 sorted(set(value)) if column == "labels" else value)
    rows = await full_messages(ctx, ids)
    return {"data": rows[0] if len(rows) == 1 else rows}


async def destroy(ctx: ActionContext) -> dict:
    """Move to Trash on the server; from Trash, delete for good."""
    ids = await ctx.in_scope()
    rows = await ctx.db.fetch(
        "SELECT m.id, m.uid, m.account_id, f.id AS folder_id, f.name AS folder, f.type FROM mail_messages m "
        "LEFT JOIN mail_folders f ON f.id = m.folder_id WHERE m.id = ANY($1::bigint[])", ids)
    groups: dict[tuple[int, str | None], list] = {}
    for r in rows:
        groups.setdefault((r["account_id"], r["folder"]), []).append(r)
    for (account_id, folder), items in groups.items():
        on_server = [r for r in items if r["uid"] is not None and folder]
        moved: dict[int, int] = {}
        trash = await ctx.db.fetchrow("SELECT id, name FROM mail_folders WHERE account_id = $1 AND type = 'trash' "
                                      "ORDER BY id LIMIT 1", account_id)
        to_trash = trash is not None and items[0]["type"] != "trash"
        if on_server:
            account = await connections.load_account(ctx.db, account_id)
            session = await connections.open_imap(ctx.host, account)
            try:
                await session.select(folder)
                uids = [r["uid"] for r in on_server]
                if to_trash:
                    moved = await session.move(uids, trash["name"])
                else:
                    await session.expunge(uids)
            finally:
                await session.logout()
        gone = []
        for r in items:
            new_uid = moved.get(r["uid"]) if r["uid"] is not None else None
            if to_trash and (new_uid is not None or r["uid"] is None):
                # in Trash at once, with the UID the server gave it there (COPYUID), so the next
                # sync of Trash finds it stored; a local draft just goes to Trash here
                kept = await ctx.db.fetchval(
                    "UPDATE mail_messages SET folder_id = $2, uid = $3, type = 'trash' WHERE id = $1 AND NOT EXISTS "
                    "(SELECT 1 FROM mail_messages WHERE folder_id = $2 AND uid = $3) RETURNING id",
                    r["id"], trash["id"], new_uid)
                if kept is not None:
                    continue
            gone.append(r["id"])  # deleted for good, or the sync of Trash brings it back
        await ctx.db.execute("DELETE FROM mail_messages WHERE id = ANY($1::bigint[])", gone)
    await ctx.host.badges_changed(ctx.user.id)
    return {"data": len(ids)}
