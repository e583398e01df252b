"""``mailMessages:listThreads``, ``mailMessages:getThread`` and ``mailMessages:list`` with ``search``.

listThreads answers one row per conversation that has a message matching ``filter`` and
``search``, newest ``main.date`` first (``sort=date``: oldest first)::

    {"threadId", "subject" (main's), "count", "unreadCount", "hasAttachments", "latestDate",
     "participants": [{"name", "address"}, ...] (senders, newest first, at most 10),
     "main": the newest matching message, with the fields of MAIN_FIELDS (or ``fields``)}

``count``, ``unreadCount``, ``hasAttachments``, ``latestDate`` and ``participants`` are of the
whole conversation, matching or not. The SQL is in ``threads_sql``.
"""
from __future__ import annotations

import math

from host.api import (ActionContext, CoercionError, Params, coerce, count_rows, db_errors, fetch_rows, make_selection,
                      order_sql, parse_filter, read_names, read_page, read_sort)
from host.errors import BadRequest, NotFound
from plugin_email_manager import threads_sql
from plugin_email_manager.search import read_search, search_sql


def _thread_sort(raw) -> bool:
    """``sort``: ``-date`` (the default, newest first) or ``date``; answers "descending"."""
    names = read_names(raw, "sort") or ["-date"]
    keys = [n for n in names if n.lstrip("-") != "id"] or ["-date"]
    if len(keys) != 1 or keys[0].lstrip("-") != "date":
        raise BadRequest("listThreads sorts by date only: sort=-date or sort=date", field="sort")
    return keys[0].startswith("-")


# a row's main message: what a message list shows (the caller's `fields` / `appends` choose otherwise)
MAIN_FIELDS = ["accountId", "folderId", "type", "threadId", "messageId", "subject", "from", "to", "cc",
               "date", "snippet", "read", "flagged", "answered", "forwarded", "hasAttachments", "size",
               "parseState", "outbox"]


def _main_selection(ctx: ActionContext):
    p = ctx.params
    return make_selection(ctx.collection, fields=read_names(p.get("fields"), "fields") or MAIN_FIELDS,
                          appends=read_names(p.get("appends"), "appends"),
                          except_=read_names(p.get("except"), "except"), mode="list", user=ctx.user)


def _meta(count: int, page: int, page_size: int) -> dict:
    return {"count": count, "page": page, "pageSize": page_size, "totalPage": math.ceil(count / page_size)}


async def list_threads(ctx: ActionContext) -> dict:
    coll, user = ctx.collection, ctx.user
    flt = parse_filter(ctx.params.get("filter"))
    search = read_search(ctx.params)
    page, page_size, _ = read_page(ctx.params)
    descending = _thread_sort(ctx.params.get("sort"))
    sel = _main_selection(ctx)
    offset = (page - 1) * page_size
    # one connection for the four statements: a pool round trip (and reset) saved per statement
    async with db_errors(coll, "list"), ctx.db.acquire() as db:
        view = None if search else threads_sql.default_view(coll, flt, user)
        if view is not None:
            pairs, total = await threads_sql.heads_page(db, user, *view, page_size, offset, descending)
        else:
            accounts = await threads_sql.own_accounts(db, coll, user)
            arms = (lambda params: search_sql(search, params, accounts=accounts)) if search else None
            pairs, total = await threads_sql.grouped_page(db, coll, user, flt, arms, accounts,
                                                          page_size, offset, descending)
        mains = {}
        if pairs:
            params = Params()
            where = ctx.where(params, ids=[p[1] for p in pairs])
            for row in await fetch_rows(db, coll, sel, where, params, user=user):
                mains[row["id"]] = row
        summary = await threads_sql.summaries(db, [p for p in pairs if p[1] in mains])
    data = []
    for thread_id, main_id in pairs:
        if main_id in mains and thread_id in summary:
            data.append({"threadId": thread_id, **summary[thread_id], "main": mains[main_id]})
    return {"data": data, "meta": _meta(total, page, page_size)}


def _thread_id(raw) -> int:
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
    thread_id = _thread_id(ctx.params.get("threadId"))
    params = Params()
    where = ctx.where(params)
    rows = await ctx.db.fetch(f"SELECT t.id FROM mail_messages t WHERE t.thread_id = "
                              f"{params.add(thread_id, 'bigint')} AND {where} ORDER BY t.date, t.id",
                              *params.values)
    if not rows:  # none, or not the caller's: the same answer
        raise NotFound("No such conversation.")
    # full_messages sanitizes the HTML and signs cid: images exactly as mailMessages:get does
    # (imported here: the reader's module pulls in the IMAP side, which a list call never needs)
    from plugin_email_manager import messages

    return {"data": await messages.full_messages(ctx, [r["id"] for r in rows], order="m.date, m.id")}


async def list_messages(ctx: ActionContext) -> dict:
    """``mailMessages:list``: the generic list, plus ``search`` (ranked unless ``sort`` is given)."""
    search = read_search(ctx.params)
    if search is None:
        return await ctx.run_generic("list")
    coll = ctx.collection
    flt = parse_filter(ctx.params.get("filter"))
    sel = ctx.selection("list")
    names = read_names(ctx.params.get("sort"), "sort")
    page, page_size, paginate = read_page(ctx.params)
    params = Params()
    accounts = await threads_sql.own_accounts(ctx.db, coll, ctx.user)
    own, unindexed = threads_sql.user_wheres(coll, ctx.user, params, flt, accounts)
    found = search_sql(search, params, accounts=accounts)
    # each arm (indexed mail by the GIN index, mail not indexed yet by subject) planned alone
    arms = " UNION ALL ".join(f"SELECT t.id FROM mail_messages t WHERE {unindexed if found.is_scoped(i) else own} "
                              f"AND {arm}" for i, arm in enumerate(found.arms))
    where = f"t.id IN ({arms})"
    order = (order_sql(coll, read_sort(coll, names)) if names else
             f" ORDER BY {found.rank} DESC NULLS LAST, t.date DESC NULLS LAST, t.id DESC")
    sql = f"SELECT t.id FROM mail_messages t WHERE {where}{order}"
    n = len(params.values)
    if paginate:
        sql += f" LIMIT ${n + 1}::bigint OFFSET ${n + 2}::bigint"
    async with db_errors(coll, "list"):
        ids = [r["id"] for r in await ctx.db.fetch(
            sql, *params.values, *((page_size, (page - 1) * page_size) if paginate else ()))]
        rows = []
        if ids:
            p2 = Params()
            got = await fetch_rows(ctx.db, coll, sel, f"t.id = ANY ({p2.add(ids, 'bigint[]')})", p2,
                                   user=ctx.user)
            by_id = {r["id"]: r for r in got}
            rows = [by_id[i] for i in ids if i in by_id]
        if not paginate:
            return {"data": rows}
        count = await count_rows(ctx.db, coll, where, params)
    return {"data": rows, "meta": _meta(count, page, page_size)}
