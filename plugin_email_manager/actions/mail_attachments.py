"""``mailAttachments``: ``download`` answers an attachment's bytes to the signed-in owner, served
so that the browser never runs them (``attachments.safe_type``, ``nosniff``)."""

from __future__ import annotations

from host.api import Action, ActionContext, Params, Raw, read_ids
from host.errors import BadRequest, NotFound
from plugin_email_manager import attachments
from plugin_email_manager.attachments import disposition, safe_type


async def download(ctx: ActionContext) -> Raw:
    read = read_ids(ctx.collection, ctx.params.get("filterByTk"))
    if read is None or len(read[0]) != 1:
        raise BadRequest("'filterByTk' must name one attachment.", code="MISSING_PARAMETER", field="filterByTk")
    params = Params()
    row = await attachments.file_of(ctx.db, ctx.where(params, ids=read[0]), params)
    if row is None:  # none, or not the caller's: the same answer
        raise NotFound("No such attachment.")
    return Raw(
        await attachments.content_of(ctx.host, row),
        safe_type(row["content_type"]),
        headers={
            "Content-Disposition": disposition("attachment", row["filename"] or "attachment"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


ACTIONS = [Action("mailAttachments", "download", download, reads=True, summary="The attachment's bytes")]
