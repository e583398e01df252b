"""Messages as a reader sees them: every field, the HTML sanitized with remote content held
back and ``cid:`` images signed, the attachments. A message the parse pass has not decoded yet
is decoded on the spot (someone is waiting for it), its text fetched first when a headers-first
sync listed it without (``mailsync/bodies.py``; 502 IMAP_UNAVAILABLE when the server is out of
reach)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.api import ActionContext, answer_row
from plugin_email_manager import process_state
from plugin_email_manager.attachments import inline_url
from plugin_email_manager.mailsync import bodies
from plugin_email_manager.sanitize import sanitize_html, text_to_html

if TYPE_CHECKING:
    from asyncpg import Record

    from host.api import Host

ATTACHMENT_COLUMNS = "id, mail_message_id, filename, content_type, size, content_id, inline"


def attachment_json(row: Record) -> dict:
    return {
        "id": row["id"],
        "filename": row["filename"],
        "contentType": row["content_type"],
        "size": row["size"],
        "contentId": row["content_id"],
        "inline": row["inline"],
    }


async def full_messages(ctx: ActionContext, ids: list[int], order: str = "m.date, m.id") -> list[dict]:
    """Messages as ``get`` answers them: every field, sanitized HTML, attachments."""
    query = f"SELECT m.* FROM mail_messages m WHERE m.id = ANY($1::bigint[]) ORDER BY {order}"
    records = await ctx.db.fetch(query, ids)
    pending = [r["id"] for r in records if r["parse_state"] == "pending"]
    if pending:  # not decoded yet: do it now rather than show an empty body
        if any(r["raw"] is None and r["texts"] is None for r in records if r["parse_state"] == "pending"):
            await bodies.texts_now(ctx.host, pending)  # listed headers first: the text from the server
        await process_state.of(ctx.host).parse_pass.decode_now(pending)
        records = await ctx.db.fetch(query, ids)
    atts = await ctx.db.fetch(
        f"SELECT {ATTACHMENT_COLUMNS} FROM mail_attachments WHERE mail_message_id = ANY($1::bigint[]) ORDER BY id", ids
    )
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


def render_body(host: Host, html: str | None, text: str | None, cids: dict[str, int]) -> dict:
    """The HTML a reader may show: sanitized, remote content held back, cid: images signed."""
    if html:
        clean = sanitize_html(html, cid_url=lambda cid: inline_url(host, cids[cid]) if cid in cids else None)
        return {"html": clean.html, "hasRemoteContent": clean.has_remote_content, "text": text}
    return {"html": text_to_html(text or "") if text else None, "hasRemoteContent": False, "text": text}
