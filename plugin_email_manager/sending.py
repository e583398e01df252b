"""Actions that write mail: prepareReply, prepareForward, send, reply, forward, saveDraft.

Attachments come as JSON (``attachments: [{"filename","contentType","content": base64}]``) or as
multipart form data (files in the field ``attachments``, the other fields as form fields whose
values may be JSON). Sizes are checked before anything is sent.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from host.api import ActionContext, Params
from host.errors import BadRequest, HostError, NotFound
from plugin_email_manager import connections, outbox
from plugin_email_manager.messages import full_messages, set_flag
from plugin_email_manager.sendmail import compose, replies, smtp
from plugin_email_manager.sendmail.recipients import format_address, parse_recipients


def _list(value: Any, name: str) -> list:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, dict)) for v in value):
        return value
    raise BadRequest(f"'{name}' must be a list of addresses.", code="INVALID_VALUE", field=name)


def _attachments(ctx: ActionContext) -> list[dict]:
    out = []
    for i, a in enumerate(_list_of_dicts(ctx.params.get("attachments"))):
        try:
            content = base64.b64decode(a.get("content") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise BadRequest(f"attachments[{i}].content is not base64.", code="INVALID_VALUE",
                             field="attachments") from None
        out.append({"filename": str(a.get("filename") or f"attachment-{i + 1}"),
                    "contentType": str(a.get("contentType") or "application/octet-stream"), "content": content,
                    **({"contentId": a["contentId"]} if a.get("contentId") else {})})
    for filename, content_type, data in ctx.files.get("attachments", []):
        out.append({"filename": filename, "contentType": content_type, "content": data})
    return out


def _list_of_dicts(value: Any) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise BadRequest("'attachments' must be a list of objects.", code="INVALID_VALUE", field="attachments")
    return value


async def _original(ctx: ActionContext, raw_id: Any, name: str) -> dict:
    ids = await ctx.in_scope(raw_id, name=name, collection="mailMessages")
    if len(ids) != 1:
        raise BadRequest(f"'{name}' must name one message.", code="INVALID_VALUE", field=name)
    return (await full_messages(ctx, ids))[0]


async def _account_addresses(ctx: ActionContext, account_id: int) -> set[str]:
    params = Params()
    rows = await ctx.db.fetch(f"SELECT t.email, t.username FROM mail_accounts t "
                              f"WHERE {ctx.where(params, collection='mailAccounts')}", *params.values)
    return {v.lower() for r in rows for v in (r["email"], r["username"]) if v and "@" in v}


async def prepare_reply(ctx: ActionContext) -> dict:
    original = await _original(ctx, ctx.params.get("filterByTk"), "filterByTk")
    reply_all = str(ctx.params.get("all", "false")).lower() in ("true", "1")
    draft = replies.prepare_reply(original, account_addresses=await _account_addresses(ctx, original["accountId"]),
                                  reply_all=reply_all)
    draft.pop("references", None)  # ``send`` makes them from ``inReplyTo``, our id
    return {"data": {**draft, "accountId": original["accountId"], "inReplyTo": original["id"]}}


async def prepare_forward(ctx: ActionContext) -> dict:
    original = await _original(ctx, ctx.params.get("filterByTk"), "filterByTk")
    draft = replies.prepare_forward(original)
    # sent back to ``send`` as they are: the original is named by our id, ``forwardOf``
    draft.pop("inReplyTo", None)
    draft.pop("references", None)
    return {"data": {**draft, "accountId": original["accountId"], "forwardOf": original["id"]}}


async def _original_attachments(ctx: ActionContext, message_id: int) -> list[dict]:
    rows = await ctx.db.fetch("SELECT filename, content_type, content, content_id, inline FROM mail_attachments "
                              "WHERE mail_message_id = $1 ORDER BY id", message_id)
    return [{"filename": r["filename"], "contentType": r["content_type"], "content": bytes(r["content"] or b""),
             **({"contentId": r["content_id"], "inline": r["inline"]} if r["content_id"] else {})} for r in rows]


async def compose_and_send(ctx: ActionContext, p: dict, *, send_it: bool = True) -> dict:
    """The whole of ``send`` (and of ``saveDraft`` with ``send_it=False``)."""
    if p.get("accountId") is None:
        raise BadRequest("'accountId' is required.", code="MISSING_PARAMETER", field="accountId")
    (account_id,) = await ctx.in_scope(p.get("accountId"), name="accountId", collection="mailAccounts")
    account = await connections.load_account(ctx.db, account_id)
    draft_id = None
    if p.get("draftId") is not None:
        (draft_id,) = await ctx.in_scope(p["draftId"], name="draftId", collection="mailMessages")
        state = await ctx.db.fetchrow("SELECT outbox, account_id FROM mail_messages WHERE id = $1", draft_id)
        if state["outbox"] is None and send_it:  # accepted by the server already: never send twice
            return {"data": (await full_messages(ctx, [draft_id]))[0]}
        if state["outbox"] is None or state["account_id"] != account_id:
            raise NotFound("No such draft.")
    attachments = _attachments(ctx)
    in_reply_to, references, original_id, forwarded = None, [], None, False
    for key in ("inReplyTo", "forwardOf"):
        if p.get(key) is None:
            continue
        # a reply or a forward joins the original's conversation: In-Reply-To and References
        original = await _original(ctx, p[key], key)
        in_reply_to, original_id, forwarded = original["messageId"], original["id"], key == "forwardOf"
        references = replies.trim_references([*(original.get("references") or []), original["messageId"] or ""])
        if forwarded:
            attachments = await _original_attachments(ctx, original["id"]) + attachments
    compose.check_size(attachments, float(ctx.host.settings.get("max_message_mib", 25)))
    to, cc, bcc = _list(p.get("to"), "to"), _list(p.get("cc"), "cc"), _list(p.get("bcc"), "bcc")
    if send_it and not (to or cc or bcc):
        raise BadRequest("Add at least one recipient.", code="NO_RECIPIENTS", field="to")
    subject, text, html = p.get("subject") or "", p.get("text"), p.get("html")
    if not isinstance(subject, str) or (text is not None and not isinstance(text, str)) or \
            (html is not None and not isinstance(html, str)):
        raise BadRequest("subject, text and html must be strings.", code="INVALID_VALUE")
    existing_id = await ctx.db.fetchval("SELECT message_id FROM mail_messages WHERE id = $1", draft_id) \
        if draft_id else None
    msg = compose.build_message(
        from_addr={"name": account.display_name or "", "address": account.email}, to=to, cc=cc, bcc=bcc,
        subject=subject, text=text, html=html, attachments=attachments, in_reply_to=in_reply_to,
        references=references, message_id=existing_id)
    bcc_json = parse_recipients(bcc)
    if not send_it:
        if draft_id is not None:  # the server's copy of the old version goes first (store forgets its UID)
            await outbox.remove_server_copy(ctx.host, account, draft_id)
        draft_id = await outbox.store(ctx.db, account_id, msg, type_="drafts", outbox="draft", bcc=bcc_json,
                                      text=text, html=html, draft_id=draft_id)
        await outbox.append(ctx.host, account, draft_id, "drafts", ["\\Draft", "\\Seen"])
        return {"data": {"id": draft_id, "draftId": draft_id}}

    had_server_draft = draft_id is not None
    if had_server_draft:
        await outbox.remove_server_copy(ctx.host, account, draft_id)
    row_id = await outbox.store(ctx.db, account_id, msg, type_="drafts", outbox="sending", bcc=bcc_json,
                                text=text, html=html, draft_id=draft_id)
    try:
        await smtp.deliver(msg, **connections.smtp_credentials(ctx.host, account),
                           envelope_from=compose.envelope_sender(msg),
                           recipients=compose.envelope_recipients(msg, bcc))
    except HostError as e:
        await outbox.mark(ctx.db, row_id, outbox="failed")
        e.extra["draftId"] = row_id
        raise
    sent = await outbox.folder_of(ctx.db, account_id, "sent")
    await outbox.mark(ctx.db, row_id, outbox=None, type_="sent", folder_id=sent["id"] if sent else None)
    if account.append_sent:
        await outbox.append(ctx.host, account, row_id, "sent", ["\\Seen"])
    if original_id is not None:
        await set_flag(ctx, [original_id], "forwarded" if forwarded else "answered", True)
    await ctx.host.notify("mail_stored", {"accountId": account_id})
    return {"data": (await full_messages(ctx, [row_id]))[0]}


async def send(ctx: ActionContext) -> dict:
    return await compose_and_send(ctx, ctx.params)


async def save_draft(ctx: ActionContext) -> dict:
    return await compose_and_send(ctx, ctx.params, send_it=False)


async def _send_prepared(ctx: ActionContext, prepared: dict, link: str) -> dict:
    """``reply``/``forward`` in one call: the prepared draft, with what the caller gave instead
    (recipients, subject, attachments), the caller's words above the quote unless ``quote: false``."""
    p = ctx.params
    text, html = p.get("text"), p.get("html")
    if str(p.get("quote", "true")).lower() not in ("false", "0"):
        text, html = replies.with_quote(prepared, text=text, html=html)
    values = {"accountId": prepared["accountId"], link: prepared[link], "bcc": p.get("bcc"),
              "subject": p.get("subject", prepared["subject"]), "text": text, "html": html,
              "attachments": p.get("attachments")}
    for field in ("to", "cc"):
        values[field] = p.get(field, [format_address(a) for a in prepared[field]])
    return await compose_and_send(ctx, values)


async def reply(ctx: ActionContext) -> dict:
    return await _send_prepared(ctx, (await prepare_reply(ctx))["data"], "inReplyTo")


async def forward(ctx: ActionContext) -> dict:
    return await _send_prepared(ctx, (await prepare_forward(ctx))["data"], "forwardOf")
