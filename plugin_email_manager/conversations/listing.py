"""The SQL behind ``listThreads``: which conversations are on a page, and what a row shows.

Two ways to find a page, answering the same thing:

- the default views (everything, or one folder type, optionally of some of the user's accounts;
  no search) page through ``mail_thread_heads`` on its ``(user_id, kind, last_date)`` index: the
  newest message of each conversation per type is kept there by triggers, so page 200 reads
  10,000 index entries, never the user's whole mailbox; their number is a sum of a few rows of
  ``mail_thread_counts``;
- any other filter or a search groups the matching messages: ``DISTINCT ON (thread_id)`` keeps
  each conversation's newest matching message (its ``main``), then pages by that message's date.

Both AND the collection's scope for the user (plus the user's account ids when the scope is the
usual ``account.userId``, which lets the planner use per-account indexes): a filter naming
another user's account narrows to nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from host.api import Params, count_rows, order_sql, scope_where
from plugin_email_manager.search import search_sql

if TYPE_CHECKING:
    from asyncpg import Connection, Pool

    from host.api import Collection, User
    from plugin_email_manager.search import Search

PARTICIPANTS = 10  # per row, newest first
NO_DATE = "'-infinity'::timestamptz"

HEADS_PAGE = """
SELECT h.thread_id, h.last_id AS id FROM mail_thread_heads h
WHERE h.user_id = $1 AND h.kind = $2 AND ($3::bigint[] IS NULL OR h.account_id = ANY ($3::bigint[]))
ORDER BY h.last_date {dir}, h.last_id {dir} LIMIT $4 OFFSET $5
"""
HEADS_COUNT = """
SELECT COALESCE(sum(c.delta), 0)::bigint AS n, count(*) AS rows FROM mail_thread_counts c
WHERE c.user_id = $1 AND c.kind = $2 AND ($3::bigint[] IS NULL OR c.account_id = ANY ($3::bigint[]))
"""
FOLD_AT = 64  # count rows of one view before a reader folds the user's deltas together
GROUPED_PAGE = """
WITH hits AS (
    SELECT DISTINCT ON (s.thread_id) s.thread_id, s.id, s.d FROM ({matches}) s
    ORDER BY s.thread_id, s.d DESC, s.id DESC
)
SELECT thread_id, id, count(*) OVER () AS total FROM hits ORDER BY d {dir}, id {dir} LIMIT {limit} OFFSET {offset}
"""
GROUPED_COUNT = "SELECT count(DISTINCT s.thread_id) FROM ({matches}) s"
# A search matching many messages (a common word) pages by walking the matches newest first:
# one stream per account, in the order of its (account_id, date, id) index, merged (Merge
# Append), read only as far as the page needs; each conversation's first message met is its
# newest match, its ``main``, so the page is the grouped one. Its count is then an estimate.
WALK_STREAM = (
    "(SELECT t.thread_id, t.id, COALESCE(t.date, {no_date}) AS d FROM mail_messages t "
    "WHERE t.account_id = {account} AND {where} ORDER BY COALESCE(t.date, {no_date}) DESC, t.id DESC)"
)
WALK = "SELECT s.thread_id, s.id FROM ({streams}) s ORDER BY s.d DESC, s.id DESC LIMIT {limit}"
ESTIMATE = "EXPLAIN (FORMAT JSON) SELECT DISTINCT t.thread_id FROM mail_messages t WHERE {where}"
ESTIMATE_FROM = 2000  # matching messages (as the planner estimates them) from which to walk
WALK_READS = 0.5  # at most this share of the matches, in messages read, for a walk to be cheaper
_ABOVE_SCAN = {"Sort", "Incremental Sort", "Unique", "Aggregate", "Gather", "Gather Merge", "Materialize"}
MATCHES = "SELECT t.thread_id, t.id, COALESCE(t.date, {no_date}) AS d FROM mail_messages t WHERE {where}"
# what a row tells of its whole conversation, for the conversations of one page: one pass over
# each conversation's messages (by mail_messages_thread_idx); senders newest first
SUMMARIES = f"""
SELECT p.thread_id, mm.subject, a.n, a.unread, a.att, a.latest, a.names, a.addresses
FROM unnest($1::bigint[], $2::bigint[]) AS p(thread_id, main_id)
JOIN mail_messages mm ON mm.id = p.main_id
CROSS JOIN LATERAL (
    SELECT count(*) AS n, count(*) FILTER (WHERE NOT x.read) AS unread,
           COALESCE(bool_or(x.has_attachments), false) AS att, max(x.date) AS latest,
           (array_agg(x.from_addr ->> 'name' ORDER BY COALESCE(x.date, {NO_DATE}) DESC, x.id DESC))[1:50] AS names,
           (array_agg(x.from_addr ->> 'address' ORDER BY COALESCE(x.date, {NO_DATE}) DESC, x.id DESC))[1:50]
               AS addresses
    FROM mail_messages x WHERE x.thread_id = p.thread_id) a
"""


def _accounts(coll: Collection) -> Collection:
    """The collection of the messages' ``account`` relation (``mailAccounts``)."""
    return coll.related(coll.fields["account"])


def standard_scope(coll: Collection, user: User | None) -> bool:
    """Whether the messages' scope for ``user`` is exactly "messages whose account is one of the
    caller's accounts": the accounts' own scope, reached through the ``account`` relation. Read
    from both collections' ``[acl.scope]``, so that changing either file changes the answer."""
    if user is None:
        return False
    mine = _accounts(coll).scope_filter(user)
    if not mine:
        return False
    return coll.scope_filter(user) == {f"account.{k}": v for k, v in mine.items()}


async def own_accounts(db: Pool | Connection, coll: Collection, user: User | None) -> list[int] | None:
    """The user's account ids when the scope is the usual one (a planner hint), else None."""
    if not standard_scope(coll, user):
        return None
    params = Params()
    return [
        r["id"]
        for r in await db.fetch(
            f"SELECT t.id FROM mail_accounts t WHERE {scope_where(_accounts(coll), user, params)}", *params.values
        )
    ]


def user_wheres(
    coll: Collection, user: User | None, params: Params, flt: dict | None, accounts: list[int] | None
) -> tuple[str, str]:
    """``scope AND filter`` on alias ``t``, twice, sharing their parameters: (indexed, not indexed).

    When the scope is the usual one, it is stated as the user's account ids (the same rows:
    ``own_accounts`` read them by that very rule), which the planner turns into per-account index
    ranges instead of a join per message. The second form writes the account condition so that no
    index matches it, for a search arm whose GIN index already reads only these accounts (see
    ``search.Search.scoped``)."""
    if accounts is None:
        where = scope_where(coll, user, params, flt)
        return where, where
    ids = params.add(accounts, "bigint[]")
    rest = scope_where(coll, None, params, flt)
    own, unindexed = f"t.account_id = ANY ({ids})", f"(t.account_id + 0) = ANY ({ids})"
    if rest == "TRUE":
        return own, unindexed
    return f"{own} AND {rest}", f"{unindexed} AND {rest}"


# a further condition on alias t, given the parameters and the caller's account ids (or None)
Narrow = Callable[[Params, "list[int] | None"], str]


def _narrowed(
    wheres: tuple[str, str], narrow: Narrow | None, params: Params, accounts: list[int] | None
) -> tuple[str, str]:
    if narrow is None:
        return wheres
    cond = narrow(params, accounts)
    own, unindexed = (cond if w == "TRUE" else f"{w} AND {cond}" for w in wheres)
    return own, unindexed


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$eq"}:
        return value["$eq"]
    return value


def default_view(coll: Collection, flt: dict | None, user: User | None) -> tuple[str, list[int] | None] | None:
    """(kind, account ids or None) when ``flt`` is a view ``mail_thread_heads`` answers, else None.

    That is: no filter ("*": every type), ``type`` equal to one string, and/or ``accountId``
    equal to or in some ids.
    """
    if not standard_scope(coll, user):
        return None
    kind, accounts = "*", None
    for key, value in (flt or {}).items():
        value = _plain(value)
        if key == "type" and isinstance(value, str) and value != "*":
            kind = value
        elif key == "accountId":
            if isinstance(value, dict) and set(value) == {"$in"}:
                value = value["$in"]
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                return None
            accounts = values
        else:
            return None
    return kind, accounts


async def heads_page(
    db: Pool | Connection, user: User, kind: str, accounts: list[int] | None, limit: int, offset: int, descending: bool
) -> tuple[list[tuple[int, int]], int]:
    """The page's (thread id, main message id) pairs and the number of conversations."""
    sql = HEADS_PAGE.format(dir="DESC" if descending else "ASC")
    rows = await db.fetch(sql, user.id, kind, accounts, limit, offset)
    count = await db.fetchrow(HEADS_COUNT, user.id, kind, accounts)
    if count["rows"] > FOLD_AT:
        await db.execute("SELECT mail_thread_counts_fold($1)", user.id)
    return [(r["thread_id"], r["id"]) for r in rows], count["n"]


def _unread_hint(flt: dict | None) -> bool:
    """``read: false`` at the top of the filter: then a literal ``NOT read`` is added, which the
    planner matches with the partial unread index whatever the bound parameter's plan."""
    if not flt or "read" not in flt:
        return False
    v = _plain(flt["read"])
    return v is False or (isinstance(v, str) and v.strip().lower() in ("false", "0"))


async def grouped_page(
    db: Pool | Connection,
    coll: Collection,
    user: User | None,
    flt: dict | None,
    search_arms: Callable[[Params], Search | None] | None,
    accounts: list[int] | None,
    limit: int,
    offset: int,
    descending: bool,
    narrow: Narrow | None = None,
) -> tuple[list[tuple[int, int]], int]:
    """The same as ``heads_page`` for any filter and search, grouping the matching messages.

    ``search_arms(params) -> search.Search`` adds a search (None for none): each of its
    conditions is one arm of a UNION ALL, so each arm gets a plan of its own. ``narrow(params,
    accounts)`` adds a condition on ``t`` (``participants.participants_sql``).
    """
    params = Params()
    own, unindexed = _narrowed(user_wheres(coll, user, params, flt, accounts), narrow, params, accounts)
    extra = ["t.thread_id IS NOT NULL"] + (["NOT t.read"] if _unread_hint(flt) else [])

    def base(where: str) -> str:
        return " AND ".join(p for p in [extra[0], where, *extra[1:]] if p != "TRUE")

    found = search_arms(params) if search_arms is not None else None
    if found is None:
        wheres = [base(own)]
    else:
        # an arm the GIN index scopes to the user's accounts gets the unindexed account condition
        wheres = [f"{base(unindexed if found.is_scoped(i) else own)} AND {arm}" for i, arm in enumerate(found.arms)]
        if descending and accounts and found.estimable:
            walked = await _walk(db, params, base(own), found, accounts, limit, offset)
            if walked is not None:
                return walked
    matches = " UNION ALL ".join(MATCHES.format(no_date=NO_DATE, where=w) for w in wheres)
    return await _grouped(db, matches, params, limit, offset, descending)


async def _estimate(db: Pool | Connection, where: str, params: Params) -> tuple[float, float]:
    """The planner's estimate of (messages matching ``where``, their distinct conversations)."""
    plan = await db.fetchval(ESTIMATE.format(where=where), *params.values)
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    scan = top  # the node that reads the messages, below the grouping
    while scan.get("Plans") and (scan is top or scan["Node Type"] in _ABOVE_SCAN):
        scan = scan["Plans"][0]
    return scan["Plan Rows"], top["Plan Rows"]


class Estimate(int):
    """A number of conversations that is the planner's estimate (``meta.countIsEstimate``)."""


async def _walk(
    db: Pool | Connection,
    params: Params,
    where: str,
    found: Search,
    accounts: list[int],
    limit: int,
    offset: int,
) -> tuple[list[tuple[int, int]], int] | None:
    """A search's page by walking its matches newest first (``WALK``), when the planner expects
    many matching messages (``ESTIMATE_FROM``) and the walk to read fewer messages than grouping
    them all would: the walk reads about ``size`` matches divided by their share of the messages
    in scope (a common word: a few hundred; a rare one: tens of thousands). None otherwise
    (grouping them all is then the cheaper, and its count exact).

    Measured at 1,000,000 messages (bench/list.py, a word in 20% of a user's 200,000): grouping
    read and sorted all 40,000 matches for one page of 50, and counted them (bare SQL 243 ms on
    a loaded machine, 20,000 buffers); the walk read 4,400 messages for its 200 matches (9 ms,
    4,100 buffers). A word in 0.8% of them, walked, read 26,000 messages (160 ms), hence the
    share. The count is then the planner's estimate of the conversations matching (from its
    statistics of the commonest words), never fewer than those seen; exact when the walk reached
    the last match."""
    assert found.estimable is not None
    # "(... OR TRUE)": the search's other parameters stated (each needs its type), then folded away
    rest = f"({found.condition} OR TRUE)"
    matches, top = await _estimate(db, f"{where} AND {found.estimable} AND {rest}", params)
    if matches < ESTIMATE_FROM:
        return None
    want, size = offset + limit, max(2 * (offset + limit), 200)
    in_scope, _ = await _estimate(db, f"{where} AND {rest}", params)
    if size * in_scope / matches > matches * WALK_READS:
        return None
    # "IS TRUE": a condition no index answers, so that each stream reads its account's index in
    # order (a LIMIT above): the planner, blind to the words behind the scalar subquery, would
    # otherwise take every match from the GIN index and sort them, which is the cost avoided here
    streams = " UNION ALL ".join(
        WALK_STREAM.format(no_date=NO_DATE, account=int(a), where=f"{where} AND ({found.condition}) IS TRUE")
        for a in accounts
    )
    while True:
        rows = await db.fetch(WALK.format(streams=streams, limit=int(size)), *params.values)
        pairs: dict[int, int] = {}
        for r in rows:
            pairs.setdefault(r["thread_id"], r["id"])  # met newest first: its main
        if len(pairs) >= want or len(rows) < size:
            break
        size *= 4
    page = list(pairs.items())[offset:want]
    if len(rows) < size:  # the walk met every match: the count is exact
        return page, len(pairs)
    return page, Estimate(max(int(top), len(pairs)))


async def matches_page(
    db: Pool | Connection,
    matches: Callable[[Params], str],
    limit: int,
    offset: int,
    descending: bool,
) -> tuple[list[tuple[int, int]], int]:
    """``grouped_page`` over other rows than the messages: ``matches(params)`` is a SELECT of
    ``thread_id, id, d`` (a message, its conversation and its date, never NULL), e.g. from the
    participants' index (``participants.thread_matches``)."""
    params = Params()
    return await _grouped(db, matches(params), params, limit, offset, descending)


async def _grouped(
    db: Pool | Connection, matches: str, params: Params, limit: int, offset: int, descending: bool
) -> tuple[list[tuple[int, int]], int]:
    n = len(params.values)
    sql = GROUPED_PAGE.format(
        matches=matches, dir="DESC" if descending else "ASC", limit=f"${n + 1}::bigint", offset=f"${n + 2}::bigint"
    )
    rows = await db.fetch(sql, *params.values, limit, offset)
    if rows:
        total = rows[0]["total"]
    elif offset == 0:
        total = 0
    else:  # past the last page: the window function saw no row to count on
        total = await db.fetchval(GROUPED_COUNT.format(matches=matches), *params.values)
    return [(r["thread_id"], r["id"]) for r in rows], total


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _participants(names: list, addresses: list) -> list[dict]:
    out, seen = [], set()
    for name, address in zip(names or [], addresses or []):
        key = (address or "").lower()
        if key and key not in seen:
            seen.add(key)
            out.append({"name": name or "", "address": address})
            if len(out) == PARTICIPANTS:
                break
    return out


async def summaries(db: Pool | Connection, pairs: list[tuple[int, int]]) -> dict[int, dict]:
    """thread id -> subject (of the main message), counts, participants, hasAttachments, latestDate."""
    if not pairs:
        return {}
    rows = await db.fetch(SUMMARIES, [p[0] for p in pairs], [p[1] for p in pairs])
    return {
        r["thread_id"]: {
            "subject": r["subject"],
            "count": r["n"],
            "unreadCount": r["unread"],
            "participants": _participants(r["names"], r["addresses"]),
            "hasAttachments": r["att"],
            "latestDate": iso(r["latest"]),
        }
        for r in rows
    }


async def searched_page(
    db: Pool,
    coll: Collection,
    user: User | None,
    flt: dict | None,
    search: str,
    order: str | None,
    window: tuple[int, int] | None,
    narrow: Narrow | None = None,
    server: Callable[[list[int] | None], Awaitable[list[int]]] | None = None,
) -> tuple[list[int], int | None]:
    """``mailMessages:list`` with ``search``: the ids of one page (``window``: limit and offset;
    None: all), ranked unless ``order`` (an ORDER BY clause) is given, and the count of every match
    (None without a window). Each arm of the search (indexed mail by the GIN index, mail not
    indexed yet by subject) is planned alone. ``server(accounts)``: ids of mail not decoded yet
    that the mail server finds (``server_search.pending_matches``), matches too."""
    params = Params()
    accounts = await own_accounts(db, coll, user)
    own, unindexed = _narrowed(user_wheres(coll, user, params, flt, accounts), narrow, params, accounts)
    found = search_sql(search, params, accounts=accounts, found=await server(accounts) if server else None)
    arms = " UNION ALL ".join(
        f"SELECT t.id FROM mail_messages t WHERE {unindexed if found.is_scoped(i) else own} AND {arm}"
        for i, arm in enumerate(found.arms)
    )
    where = f"t.id IN ({arms})"
    order = order or f" ORDER BY {found.rank} DESC NULLS LAST, t.date DESC NULLS LAST, t.id DESC"
    sql = f"SELECT t.id FROM mail_messages t WHERE {where}{order}"
    n = len(params.values)
    if window is not None:
        sql += f" LIMIT ${n + 1}::bigint OFFSET ${n + 2}::bigint"
    ids = [r["id"] for r in await db.fetch(sql, *params.values, *(window or ()))]
    if window is None:
        return ids, None
    return ids, await count_rows(db, coll, where, params)


async def narrowed_page(
    db: Pool,
    coll: Collection,
    user: User | None,
    flt: dict | None,
    sort: list[str],
    window: tuple[int, int] | None,
    narrow: Narrow,
) -> tuple[list[int], int | None]:
    """``mailMessages:list`` with ``participants`` and no search: the ids of one page in ``sort``
    order, and the count of every match (None without a window)."""
    params = Params()
    accounts = await own_accounts(db, coll, user)
    where, _ = _narrowed(user_wheres(coll, user, params, flt, accounts), narrow, params, accounts)
    sql = f"SELECT t.id FROM mail_messages t WHERE {where}{order_sql(coll, sort)}"
    n = len(params.values)
    if window is not None:
        sql += f" LIMIT ${n + 1}::bigint OFFSET ${n + 2}::bigint"
    ids = [r["id"] for r in await db.fetch(sql, *params.values, *(window or ()))]
    if window is None:
        return ids, None
    return ids, await count_rows(db, coll, where, params)
