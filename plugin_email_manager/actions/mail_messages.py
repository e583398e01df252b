"""``mailMessages``: list and read (conversations, search), change (read state, flags, labels,
delete), and write (reply, forward, send, drafts).

listThreads answers one row per conversation that has a message matching ``filter`` and
``search``, newest ``main.date`` first (``sort=date``: oldest first)::

    {"threadId", "subject" (main's), "count", "unreadCount", "hasAttachments", "latestDate",
     "participants": [{"name", "address"}, ...] (senders, newest first, at most 10),
     "main": the newest matching message, with the fields of MAIN_FIELDS (or ``fields``)}

``count``, ``unreadCount``, ``hasAttachments``, ``latestDate`` and ``participants`` are of the
whole conversation, matching or not; the SQL is in ``conversations/listing.py``.

Read state is written here at once and pushed to the server in the same call; when the server
can't be reached the change stays noted and the next sync pushes it (``mailsync.pending_flags``
owns that), so it is never lost and never overwritten by the server's older state meanwhile.

Attachments of a message to send come as JSON (``attachments: [{"filename","contentType",
"content": base64}]``) or as multipart form data (files in the field ``attachments``, the other
fields as form fields whose values may be JSON). Sizes are checked before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import date
from typing import TYPE_CHECKING, Any

from host.api import (
    Action,
    ActionContext,
    CoercionError,
    Params,
    coerce,
    db_errors,
    fetch_rows,
    make_selection,
    order_sql,
    parse_filter,
    read_names,
    read_page,
    read_sort,
)
from host.errors import BadRequest, HostError, NotFound
from plugin_email_manager import (
    connections,
    events,
    identities,
    imap_pool,
    message_store,
    outbox,
    participants,
    sending,
    server_search,
)
from plugin_email_manager.conversations import listing
from plugin_email_manager.errors import ImapCommandFailed
from plugin_email_manager.mailsync import bodies, pending_flags
from plugin_email_manager.participants import Participants, participants_sql, read_participants
from plugin_email_manager.reader import full_messages
from plugin_email_manager.search import read_search, search_sql
from plugin_email_manager.sendmail import compose, replies
from plugin_email_manager.sendmail.recipients import format_address, parse_recipients

if TYPE_CHECKING:
    from host.api import Selection

# ---------------------------------------------------------------- list and read


def participants_narrow(parts: Participants) -> listing.Narrow:
    return lambda params, accounts: participants_sql(parts, params, accounts)


def _thread_sort(raw: Any) -> bool:
    """``sort``: ``-date`` (the default, newest first) or ``date``; answers "descending"."""
    names = read_names(raw, "sort") or ["-date"]
    keys = [n for n in names if n.lstrip("-") != "id"] or ["-date"]
    if len(keys) != 1 or keys[0].lstrip("-") != "date":
        raise BadRequest("listThreads sorts by date only: sort=-date or sort=date", field="sort")
    return keys[0].startswith("-")


# a row's main message: what a message list shows (the caller's `fields` / `appends` choose otherwise)
MAIN_FIELDS = [
    "accountId",
    "folderId",
    "type",
    "threadId",
    "messageId",
    "subject",
    "from",
    "to",
    "cc",
    "date",
    "snippet",
    "read",
    "flagged",
    "answered",
    "forwarded",
    "hasAttachments",
    "size",
    "parseState",
    "outbox",
    "sendAt",
    "sendError",
    "labels",  # the list's label chips
    "todo",
]


def _main_selection(ctx: ActionContext) -> Selection:
    p = ctx.params
    return make_selection(
        ctx.collection,
        fields=read_names(p.get("fields"), "fields") or MAIN_FIELDS,
        appends=read_names(p.get("appends"), "appends"),
        except_=read_names(p.get("except"), "except"),
        mode="list",
        user=ctx.user,
    )


def _meta(count: int, page: int, page_size: int) -> dict:
    meta = {"count": int(count), "page": page, "pageSize": page_size, "totalPage": math.ceil(count / page_size)}
    if isinstance(count, listing.Estimate):  # a search of a common word: "about N"
        meta["countIsEstimate"] = True
    return meta


# the users' field that lets a user read every user's mail with scope "all" (host.api widen)
MANAGER = "mailManager"


async def _with_account_emails(ctx: ActionContext, rows: list[dict]) -> list[dict]:
    """A manager's read of every user's mail: each message says whose account it is in."""
    if ctx.widened and rows:
        emails = await participants.account_emails(ctx.db, list({r["accountId"] for r in rows if "accountId" in r}))
        for r in rows:
            if "accountId" in r:
                r["accountEmail"] = emails.get(r["accountId"])
    return rows


async def list_threads(ctx: ActionContext) -> dict:
    await ctx.widen(MANAGER)
    return await _threads(ctx, read_participants(ctx.params.get("participants")))


async def _threads(ctx: ActionContext, parts: Participants | None) -> dict:
    """listThreads' answer, narrowed to mail with ``parts`` (None: anyone)."""
    coll, user = ctx.collection, ctx.scope_user
    flt = parse_filter(ctx.params.get("filter"))
    search = read_search(ctx.params)
    page, page_size, _ = read_page(ctx.params)
    descending = _thread_sort(ctx.params.get("sort"))
    sel = _main_selection(ctx)
    offset = (page - 1) * page_size
    # one connection for the four statements: a pool round trip (and reset) saved per statement
    narrow = None if parts is None else participants_narrow(parts)
    async with db_errors(coll, "list"), ctx.db.acquire() as db:
        view = None if search or parts is not None else listing.default_view(coll, flt, user)
        accounts = None if view is not None else await listing.own_accounts(db, coll, user)
        if view is not None:
            assert user is not None  # default_view answers a view only for a user's own scope
            pairs, total = await listing.heads_page(db, user, *view, page_size, offset, descending)
        elif parts is not None and not flt and not search and (accounts is not None or user is None):
            # mail with someone, nothing else asked: the participants' index alone answers it (the
            # caller's accounts, or every account for a manager's scope all)
            pairs, total = await listing.matches_page(
                db, lambda params: participants.thread_matches(parts, params, accounts), page_size, offset, descending
            )
        else:
            # mail not decoded yet (a first sync): the mail server's own search finds its words
            found = await server_search.pending_matches(ctx.host, db, accounts, search) if search else None
            arms = (lambda params: search_sql(search, params, accounts=accounts, found=found)) if search else None
            pairs, total = await listing.grouped_page(
                db, coll, user, flt, arms, accounts, page_size, offset, descending, narrow
            )
        mains = {}
        if pairs:
            params = Params()
            where = ctx.where(params, ids=[p[1] for p in pairs])
            for row in await _with_account_emails(ctx, await fetch_rows(db, coll, sel, where, params, user=user)):
                mains[row["id"]] = row
        summary = await listing.summaries(db, [p for p in pairs if p[1] in mains])
    data = []
    for thread_id, main_id in pairs:
        if main_id in mains and thread_id in summary:
            data.append({"threadId": thread_id, **summary[thread_id], "main": mains[main_id]})
    return {"data": data, "meta": _meta(total, page, page_size)}


def _thread_id(raw: Any) -> int:
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if raw is None or raw == "":
        raise BadRequest("'threadId' is required.", code="MISSING_PARAMETER", field="threadId")
    try:
        if isinstance(raw, (dict, list, bool)):
            raise CoercionError(raw)
        return coerce("bigInt", raw)
    except CoercionError:
        raise BadRequest(f"threadId {raw!r} is not an id", field="threadId") from None


async def get_thread(ctx: ActionContext) -> dict:
    """Every message of one of the user's conversations, oldest first, as ``get`` answers them."""
    await ctx.widen(MANAGER)
    thread_id = _thread_id(ctx.params.get("threadId"))
    params = Params()
    ids = await message_store.thread_message_ids(ctx.db, thread_id, ctx.where(params), params)
    if not ids:  # none, or not the caller's: the same answer
        raise NotFound("No such conversation.")
    # as mailMessages:get answers them: the HTML sanitized, cid: images signed
    return {"data": await _with_account_emails(ctx, await full_messages(ctx, ids, order="m.date, m.id"))}


async def list_messages(ctx: ActionContext) -> dict:
    """``mailMessages:list``: the generic list, plus ``search`` (ranked unless ``sort`` is given) and
    ``participants``."""
    await ctx.widen(MANAGER)
    search = read_search(ctx.params)
    parts = read_participants(ctx.params.get("participants"))
    if search is None and parts is None:
        answer = await ctx.run_generic("list")
        await _with_account_emails(ctx, answer["data"])
        return answer
    coll, user = ctx.collection, ctx.scope_user
    flt = parse_filter(ctx.params.get("filter"))
    sel = ctx.selection("list")
    names = read_names(ctx.params.get("sort"), "sort")
    page, page_size, paginate = read_page(ctx.params)
    window = (page_size, (page - 1) * page_size) if paginate else None
    async with db_errors(coll, "list"):
        if search is None:
            assert parts is not None
            ids, count = await listing.narrowed_page(
                ctx.db, coll, user, flt, read_sort(coll, names), window, participants_narrow(parts)
            )
        else:
            order = order_sql(coll, read_sort(coll, names)) if names else None
            narrow = None if parts is None else participants_narrow(parts)
            ids, count = await listing.searched_page(
                ctx.db,
                coll,
                user,
                flt,
                search,
                order,
                window,
                narrow,
                server=lambda accounts: server_search.pending_matches(ctx.host, ctx.db, accounts, search),
            )
        rows = []
        if ids:
            p2 = Params()
            got = await fetch_rows(ctx.db, coll, sel, f"t.id = ANY ({p2.add(ids, 'bigint[]')})", p2, user=user)
            by_id = {r["id"]: r for r in got}
            rows = await _with_account_emails(ctx, [by_id[i] for i in ids if i in by_id])
    if count is None:  # paginate=false: no window, no count
        return {"data": rows}
    return {"data": rows, "meta": _meta(count, page, page_size)}


# ---------------------------------------------------------------- change


async def get(ctx: ActionContext) -> dict:
    await ctx.widen(MANAGER)
    ids = await ctx.in_scope()
    if len(ids) != 1:
        raise BadRequest("'filterByTk' must name one message.", code="INVALID_VALUE", field="filterByTk")
    return {"data": (await _with_account_emails(ctx, await full_messages(ctx, ids)))[0]}


async def list_for_record(ctx: ActionContext) -> dict:
    """listThreads of the mail with a record's email and domain fields (``field``: one of them),
    for a caller who may ``get`` that record (else 404, as for a record that does not exist)."""
    name, field = ctx.params.get("collection"), ctx.params.get("field")
    if not isinstance(name, str) or not name:
        raise BadRequest("'collection' is required.", code="MISSING_PARAMETER", field="collection")
    try:
        coll = ctx.collection_named(name)
    except KeyError:
        raise NotFound(f"There is no collection {name!r}.") from None
    assert ctx.user is not None  # not a public action
    if coll.internal or not coll.acl.allows(ctx.user.role, "get"):
        raise NotFound(f"No such record in {name}.")
    ids = await ctx.in_scope(collection=coll)  # the caller's own scope: widened only below
    if len(ids) != 1:
        raise BadRequest("'filterByTk' must name one record.", code="INVALID_VALUE", field="filterByTk")
    fields = [f for f in coll.fields.values() if f.interface in ("email", "domain") and not f.hidden]
    if field is not None:
        fields = [f for f in fields if f.name == field]
        if not fields:
            raise BadRequest(f"{name}.{field} is not an email or domain field.", code="INVALID_VALUE", field="field")
    values: list[tuple[str, Any]] = []
    if fields:
        params = Params()
        sel = make_selection(coll, fields=[f.name for f in fields], mode="list", user=ctx.user)
        rows = await fetch_rows(ctx.db, coll, sel, ctx.where(params, ids=ids, collection=coll), params, user=ctx.user)
        values = [(f.interface or "", row.get(f.name)) for row in rows for f in fields]
    await ctx.widen(MANAGER)
    return await _threads(ctx, participants.of_values(values))


FLAG_COLUMNS = ("read", "flagged")  # the server flags a person changes (sending sets the others)


async def set_flag(ctx: ActionContext, ids: list[int], column: str, value: bool) -> None:
    """Set a flag column here and on the server (``pending_flags`` keeps it until the server has it)."""
    news = await message_store.differing(ctx.db, ids, column, value) if column in FLAG_COLUMNS else []
    changed = await pending_flags.record(ctx.db, ids, column, value)
    if changed:
        await pending_flags.push_now(ctx.host, changed)
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    await ctx.host.badges_changed(ctx.user.id)
    await events.changed(ctx.host, None, [(i, (column,)) for i in news])


async def mark_read(ctx: ActionContext) -> dict:
    ids = await ctx.in_scope()
    await set_flag(ctx, ids, "read", True)
    return {"data": ids}


async def mark_unread(ctx: ActionContext) -> dict:
    ids = await ctx.in_scope()
    await set_flag(ctx, ids, "read", False)
    return {"data": ids}


async def update(ctx: ActionContext) -> dict:
    """What a person changes on a message: ``read`` and ``flagged`` (here and on the server),
    ``labels`` (here, and on Gmail there too), the ``todo`` mark and its ``todoDue`` day (here)."""
    unknown = set(ctx.values) - set(FLAG_COLUMNS) - set(message_store.LOCAL_COLUMNS)
    if unknown or not ctx.values:
        name = sorted(unknown)[0] if unknown else "read"
        raise BadRequest(
            f"Only read, flagged, labels, todo and todoDue can be changed ({name!r} cannot).",
            code="READ_ONLY",
            field=name,
        )
    for column, value in ctx.values.items():
        if column == "labels":
            if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v.strip()) <= 100 for v in value):
                raise BadRequest("'labels' must be a list of names.", code="INVALID_VALUE", field=column)
        elif column == "todoDue":
            if value is not None and not _is_day(value):
                raise BadRequest("'todoDue' must be a day (YYYY-MM-DD) or null.", code="INVALID_VALUE", field=column)
        elif not isinstance(value, bool):
            raise BadRequest(f"'{column}' must be true or false.", code="INVALID_VALUE", field=column)
    ids = await ctx.in_scope()
    for column, value in ctx.values.items():
        if column in FLAG_COLUMNS:
            await set_flag(ctx, ids, column, value)
        elif column == "labels":
            changed = await pending_flags.record_labels(ctx.db, ids, [v.strip() for v in value])
            if changed:
                await pending_flags.push_now(ctx.host, changed)
            await events.changed(ctx.host, None, [(i, ("labels",)) for i in ids])
        else:
            await message_store.set_local(ctx.db, ids, column, value)
    rows = await full_messages(ctx, ids)
    return {"data": rows[0] if len(rows) == 1 else rows}


def _is_day(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def _by_folder(rows: list) -> dict[tuple[int, str | None], list]:
    """Messages grouped by account and folder name (None: a local draft), as the server moves them."""
    groups: dict[tuple[int, str | None], list] = {}
    for r in rows:
        groups.setdefault((r["account_id"], r["folder"]), []).append(r)
    return groups


async def _move_group(ctx: ActionContext, account_id: int, folder: str | None, items: list, target: Any) -> None:
    """Moves messages of one folder to ``target`` (a mail_folders row; None: delete for good), on
    the server (UID MOVE) and here: each keeps its row, now in ``target`` with the UID COPYUID told
    (a local draft just changes folder). One the server gave no new UID for is removed here, and
    the sync of ``target`` brings it back. Announces messageUpdated "moved" and messageDeleted."""
    on_server = [r for r in items if r["uid"] is not None and folder]
    moved: dict[int, int] = {}
    if on_server:
        assert folder is not None  # on_server holds only messages of a folder
        uids = [r["uid"] for r in on_server]
        uid_validity = await ctx.db.fetchval(
            "SELECT uid_validity FROM mail_folders WHERE id = $1", items[0]["folder_id"]
        )

        # on a session the account keeps (imap_pool: no login per move); run once more on a new
        # one if the kept one was cut, which is safe: a UID moved or expunged already is skipped
        async def change(lease: imap_pool.Lease) -> dict[int, int]:
            if not await lease.select(folder, uid_validity):
                raise ImapCommandFailed(
                    f"The folder {folder!r} was renumbered on the mail server: nothing was moved. "
                    "It is read again at the next sync; try again after it.",
                    server="imap",
                )
            if target is None:
                await lease.session.expunge(uids)
                return {}
            return await lease.session.move(uids, target["name"])

        moved = await imap_pool.of(ctx.host).run(account_id, change, folder=folder)
    gone, filed = [], []
    for r in items:
        new_uid = moved.get(r["uid"]) if r["uid"] is not None else None
        if target is not None and (new_uid is not None or r["uid"] is None):
            if await message_store.file_in(ctx.db, r["id"], target, new_uid):
                filed.append(r["id"])
                continue
        gone.append(r["id"])  # deleted for good, or the sync of the target brings it back
    before = await events.listed(ctx.host, gone)  # what messageDeleted tells of them
    await message_store.delete(ctx.db, gone)
    await events.changed(ctx.host, account_id, [(i, ("moved",)) for i in filed])
    await events.deleted(ctx.host, account_id, before.values())


async def destroy(ctx: ActionContext) -> dict:
    """Move to Trash on the server; from Trash, delete for good."""
    ids = await ctx.in_scope()
    rows = await message_store.with_folders(ctx.db, ids)
    for (account_id, folder), items in _by_folder(rows).items():
        trash = await message_store.folder_of_type(ctx.db, account_id, "trash")
        if items[0]["type"] == "trash":
            trash = None  # from Trash (as without one), a delete is for good
        await _move_group(ctx, account_id, folder, items, trash)
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    await ctx.host.badges_changed(ctx.user.id)
    return {"data": len(ids)}


MOVE_TYPES = ("inbox", "sent", "drafts", "trash", "junk", "archive")  # "other" names no one folder


async def _move_target(ctx: ActionContext, raw: Any, account_id: int) -> Any:
    """The folder ``folder`` names for messages of this account: a type (400 when unknown or when
    the account has none) or a mailFolders id (404 unless it is this account's)."""
    if isinstance(raw, str) and not raw.strip().isdigit():
        if raw not in MOVE_TYPES:
            raise BadRequest(
                f"'folder' must be one of {', '.join(MOVE_TYPES)} or a folder id.", code="INVALID_VALUE", field="folder"
            )
        found = await message_store.folder_of_type(ctx.db, account_id, raw)
        if found is None:
            raise BadRequest(f"The account has no {raw} folder.", code="NO_SUCH_FOLDER", field="folder")
        return found
    (folder_id,) = await ctx.in_scope(raw, name="folder", collection="mailFolders")  # another's: 404
    found = await message_store.folder_by_id(ctx.db, folder_id)
    if found is None or found["account_id"] != account_id:
        raise NotFound("No such folder in the message's account.", code="NOT_FOUND", field="folder")
    return found


async def move(ctx: ActionContext) -> dict:
    """Move to another folder of the message's account, on the server too: ``folder`` is a type
    (``archive``, ``inbox``, ...) or a mailFolders id. Messages of several accounts each move
    within their own. Answers the ids."""
    raw = ctx.params.get("folder")
    if raw is None or raw == "" or isinstance(raw, (bool, list, dict)):
        raise BadRequest("'folder' is required: a folder type or a folder id.", code="INVALID_VALUE", field="folder")
    ids = await ctx.in_scope()
    rows = await message_store.with_folders(ctx.db, ids)
    targets = {a: await _move_target(ctx, raw, a) for a in sorted({r["account_id"] for r in rows})}
    for (account_id, folder), items in _by_folder(rows).items():
        target = targets[account_id]
        items = [r for r in items if r["folder_id"] != target["id"]]  # already there
        if items:
            await _move_group(ctx, account_id, folder, items, target)
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    await ctx.host.badges_changed(ctx.user.id)
    return {"data": ids}


# ---------------------------------------------------------------- write


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
            raise BadRequest(
                f"attachments[{i}].content is not base64.", code="INVALID_VALUE", field="attachments"
            ) from None
        out.append(
            {
                "filename": str(a.get("filename") or f"attachment-{i + 1}"),
                "contentType": str(a.get("contentType") or "application/octet-stream"),
                "content": content,
                **({"contentId": a["contentId"]} if a.get("contentId") else {}),
            }
        )
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
    scope = ctx.where(params, collection="mailAccounts")
    # an identity's address is the account's own: a reply never writes to it
    own = await message_store.account_addresses(ctx.db, scope, params)
    return own | await identities.addresses(ctx.db, scope, params)


async def prepare_reply(ctx: ActionContext) -> dict:
    original = await _original(ctx, ctx.params.get("filterByTk"), "filterByTk")
    reply_all = str(ctx.params.get("all", "false")).lower() in ("true", "1")
    draft = replies.prepare_reply(
        original, account_addresses=await _account_addresses(ctx, original["accountId"]), reply_all=reply_all
    )
    draft.pop("references", None)  # ``send`` makes them from ``inReplyTo``, our id
    # send as the identity the original was written to
    account = await connections.load_account(ctx.db, original["accountId"])
    sender = identities.addressed(original, await identities.of_account(ctx.db, account))
    draft["from"] = sender.email
    return {"data": {**draft, "accountId": original["accountId"], "inReplyTo": original["id"]}}


async def prepare_forward(ctx: ActionContext) -> dict:
    original = await _original(ctx, ctx.params.get("filterByTk"), "filterByTk")
    draft = replies.prepare_forward(original)
    # sent back to ``send`` as they are: the original is named by our id, ``forwardOf``
    draft.pop("inReplyTo", None)
    draft.pop("references", None)
    return {"data": {**draft, "accountId": original["accountId"], "forwardOf": original["id"]}}


async def compose_and_send(ctx: ActionContext, p: dict, *, send_it: bool = True) -> dict:
    """The whole of ``send`` (and of ``saveDraft`` with ``send_it=False``)."""
    if p.get("accountId") is None:
        raise BadRequest("'accountId' is required.", code="MISSING_PARAMETER", field="accountId")
    (account_id,) = await ctx.in_scope(p.get("accountId"), name="accountId", collection="mailAccounts")
    account = await connections.load_account(ctx.db, account_id)
    sender = identities.choose(await identities.of_account(ctx.db, account), p.get("from"))
    send_at = await sending.hold_until(ctx, p) if send_it else None  # None: at once
    draft_id, state = None, None
    if p.get("draftId") is not None:
        (draft_id,) = await ctx.in_scope(p["draftId"], name="draftId", collection="mailMessages")
        state = await message_store.draft_state(ctx.db, draft_id)
        assert state is not None  # in_scope found it
        sending.check_not_held(state["outbox"])
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
            await bodies.attachments_now(ctx.host, original["id"])  # listed headers first: fetched now
            attachments = await message_store.attachments_of(ctx.db, original["id"]) + attachments
    compose.check_size(attachments, float(ctx.host.settings.get("max_message_mib", 25)))
    to, cc, bcc = _list(p.get("to"), "to"), _list(p.get("cc"), "cc"), _list(p.get("bcc"), "bcc")
    if send_it and not (to or cc or bcc):
        raise BadRequest("Add at least one recipient.", code="NO_RECIPIENTS", field="to")
    subject, text, html = p.get("subject") or "", p.get("text"), p.get("html")
    if (
        not isinstance(subject, str)
        or (text is not None and not isinstance(text, str))
        or (html is not None and not isinstance(html, str))
    ):
        raise BadRequest("subject, text and html must be strings.", code="INVALID_VALUE")
    existing_id = state["message_id"] if state is not None else None
    msg = compose.build_message(
        from_addr=sender.from_addr,
        reply_to=sender.reply_to,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        in_reply_to=in_reply_to,
        references=references,
        message_id=existing_id,
        date=send_at,
    )
    bcc_json = parse_recipients(bcc)
    if not send_it:
        if draft_id is not None:  # the server's copy of the old version goes first (store forgets its UID)
            await outbox.remove_server_copy(ctx.host, account, draft_id)
        draft_id = await outbox.store(
            ctx.db,
            account_id,
            msg,
            type_="drafts",
            outbox="draft",
            bcc=bcc_json,
            text=text,
            html=html,
            draft_id=draft_id,
        )
        await outbox.append(ctx.host, account, draft_id, "drafts", ["\\Draft", "\\Seen"])
        return {"data": {"id": draft_id, "draftId": draft_id}}

    if draft_id is not None:
        await outbox.remove_server_copy(ctx.host, account, draft_id)
    if send_at is not None:  # held: sendAt, or the undo window; sending.JOB sends it then
        return {
            "data": await sending.hold(
                ctx.db,
                account_id,
                msg,
                send_at=send_at,
                bcc=bcc_json,
                text=text,
                html=html,
                draft_id=draft_id,
                original_id=original_id,
                forwarded=forwarded,
            )
        }
    row_id = await outbox.store(
        ctx.db, account_id, msg, type_="drafts", outbox="sending", bcc=bcc_json, text=text, html=html, draft_id=draft_id
    )
    try:
        await sending.deliver(ctx.host, account, row_id, msg, bcc, original_id=original_id, forwarded=forwarded)
    except HostError as e:
        e.extra["draftId"] = row_id
        raise
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
    values = {
        "accountId": prepared["accountId"],
        "from": p.get("from", prepared.get("from")),
        link: prepared[link],
        "bcc": p.get("bcc"),
        "subject": p.get("subject", prepared["subject"]),
        "text": text,
        "html": html,
        "attachments": p.get("attachments"),
    }
    for field in ("to", "cc"):
        values[field] = p.get(field, [format_address(a) for a in prepared[field]])
    return await compose_and_send(ctx, values)


async def _one(ctx: ActionContext) -> int:
    ids = await ctx.in_scope()
    if len(ids) != 1:
        raise BadRequest("'filterByTk' must name one message.", code="INVALID_VALUE", field="filterByTk")
    return ids[0]


async def cancel_send(ctx: ActionContext) -> dict:
    """A scheduled (or held, or unknown) message becomes a draft again; 409 once it went."""
    return {"data": await sending.cancel(ctx.host, await _one(ctx))}


async def resend(ctx: ActionContext) -> dict:
    """A message whose sending is unknown (or failed) goes out again now: a person decided."""
    return {"data": await sending.resend(ctx.db, await _one(ctx))}


async def reply(ctx: ActionContext) -> dict:
    return await _send_prepared(ctx, (await prepare_reply(ctx))["data"], "inReplyTo")


async def forward(ctx: ActionContext) -> dict:
    return await _send_prepared(ctx, (await prepare_forward(ctx))["data"], "forwardOf")


ACTIONS = [
    Action("mailMessages", "get", get, reads=True, summary="One message with its bodies and attachments"),
    Action("mailMessages", "list", list_messages, reads=True, summary="Messages, with full-text search"),
    Action("mailMessages", "listThreads", list_threads, reads=True, summary="One row per conversation"),
    Action("mailMessages", "getThread", get_thread, reads=True, summary="Every message of a conversation"),
    Action("mailMessages", "listForRecord", list_for_record, reads=True, summary="The conversations of a record"),
    Action("mailMessages", "markRead", mark_read, summary="Mark read, here and on the server"),
    Action("mailMessages", "markUnread", mark_unread, summary="Mark unread, here and on the server"),
    Action("mailMessages", "update", update, summary="Change read or flagged, here and on the server"),
    Action("mailMessages", "destroy", destroy, summary="Move to Trash (from Trash: delete for good)"),
    Action("mailMessages", "move", move, summary="Move to another folder, on the server too"),
    Action("mailMessages", "prepareReply", prepare_reply, summary="A reply draft for the compose dialog"),
    Action("mailMessages", "prepareForward", prepare_forward, summary="A forward draft"),
    Action("mailMessages", "send", send, summary="Send a message over SMTP"),
    Action("mailMessages", "reply", reply, summary="Reply in one call"),
    Action("mailMessages", "forward", forward, summary="Forward in one call"),
    Action("mailMessages", "saveDraft", save_draft, summary="Store a draft here and on the server"),
    Action("mailMessages", "cancelSend", cancel_send, summary="A scheduled message back to a draft"),
    Action("mailMessages", "resend", resend, summary="Send again a message whose sending is unknown"),
]
