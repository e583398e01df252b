"""Search that misses nothing during a first sync: the mail server searches the text not here yet.

A message is listed as soon as its headers are stored, and searchable by its body only once the
parse pass has decoded its text (``parse_state`` no longer ``pending``, ``search_vector`` set).
Meanwhile ``search.py`` finds it by its subject only; this module asks the mail server for the
rest: for each of the searcher's folders that still holds such messages, ``UID SEARCH TEXT``
(``X-GM-RAW`` on Gmail, which searches as Gmail's own search box does) in that folder, and
answers the ids of the not-yet-decoded messages among the UIDs found. ``search_sql`` then takes
them as matches (``Search`` arm ``t.id = ANY(...)``), ANDed with the same scope and filter as
every other match.

Cheap when there is nothing to do: one index probe per account (the parse queue's partial
index, migration 7) answers "nothing pending", and no connection is opened. When there is,
every account is asked at once, the whole round bounded by ``TIMEOUT``: a server that is slow or
unreachable leaves the answer to what is here (the list never fails for it). A round's UIDs
(none, for a server that failed) are kept for ``CACHE_SECONDS`` per account and query, so paging
through the results, or the list and the thread list of one search, cost one round; the ids are
read again each time, so mail decoded meanwhile is found through its index, not twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING

from plugin_email_manager import connections, imap_pool
from plugin_email_manager.mailsync.gmail import is_gmail
from plugin_email_manager.mailsync.imap.codec import Literal, quote
from plugin_email_manager.search import split_query

if TYPE_CHECKING:
    from asyncpg import Connection, Pool

    from host.api import Host

log = logging.getLogger(__name__)

TIMEOUT = 3.0  # seconds for the whole round: connecting, logging in, one SEARCH per folder
CACHE_SECONDS = 30.0
CACHE_SIZE = 256
MAX_TERMS = 8

# accounts with mail not decoded yet: one probe of the parse queue's partial index each (LATERAL
# ... LIMIT 1: as EXISTS, the planner read the whole queue into a hash, 2,000 rows in 3.5 ms)
PENDING_ACCOUNTS = """
SELECT a FROM unnest($1::bigint[]) AS a
CROSS JOIN LATERAL (SELECT 1 FROM mail_messages m WHERE m.account_id = a AND m.parse_state = 'pending' LIMIT 1) p
"""
# their folders that hold some of it (names as on the server)
PENDING_FOLDERS = """
SELECT f.id, f.account_id, f.name FROM mail_folders f
WHERE f.account_id = ANY($1::bigint[]) AND EXISTS (
    SELECT 1 FROM mail_messages m
    WHERE m.account_id = f.account_id AND m.parse_state = 'pending' AND m.folder_id = f.id)
ORDER BY f.account_id, f.id
"""
PENDING_IDS = """
SELECT m.id FROM unnest($1::bigint[], $2::bigint[]) AS x(folder_id, uid)
JOIN mail_messages m ON m.folder_id = x.folder_id AND m.uid = x.uid
WHERE m.parse_state = 'pending'
"""

_TERM = re.compile(r'-?"[^"]*"?|\S+')
# (host, account id, query) -> (when, {folder id: uids})
_cache: dict[tuple[int, int, str], tuple[float, dict[int, list[int]]]] = {}
# server rounds run (tests and the bench read it: a search with nothing pending runs none)
rounds = 0


def _string(text: str) -> bytes | Literal:
    """A search string: quoted when ASCII, else a literal (sent with ``CHARSET UTF-8``)."""
    return quote(text) if text.isascii() else Literal(text.encode("utf-8"))


def criteria(search: str) -> list[bytes | Literal] | None:
    """IMAP SEARCH keys for ``search`` as ``search.py`` reads it (websearch syntax: words and
    quoted phrases all required, ``or`` between two of them, ``-word`` excluded), each term a
    ``TEXT`` key: the server matches substrings of the decoded headers and body, which finds at
    least what the english stems find ("meeting" in "meetings"). None when nothing is asked."""
    positive, excluded = split_query(search)
    groups: list[list[str]] = []
    join = False
    for token in _TERM.findall(positive)[: MAX_TERMS * 2]:
        if token.lower() == "or" and groups:
            join = True
            continue
        term = token.strip('"')
        if not term:
            continue
        if join:
            groups[-1].append(term)
        else:
            groups.append([term])
        join = False
    groups = groups[:MAX_TERMS]
    if not groups:
        return None
    keys: list[bytes | Literal] = []

    def text(term: str) -> list[bytes | Literal]:
        return [b" TEXT ", _string(term)]

    for group in groups:
        # OR takes two keys: "a or b or c" is OR a (OR b c)
        keys += [b" OR"] * (len(group) - 1)
        for term in group:
            keys += text(term)
    for term in excluded[:MAX_TERMS]:
        term = term.strip('"')
        if term:
            keys += [b" NOT", *text(term)]
    return keys


async def _search_folder(lease: imap_pool.Lease, name: str, keys: list[bytes | Literal]) -> list[int]:
    """UID SEARCH in one folder (EXAMINE: reading never changes \\Recent or flags; examined again
    even when the kept session has it selected, so that mail listed since is searched too). The
    session's ``uid_search`` takes ASCII criteria only: a word of another script goes as a
    literal, with ``CHARSET UTF-8``."""
    await lease.examine(name, again=True)
    charset = b" CHARSET UTF-8" if any(isinstance(k, Literal) for k in keys) else b""
    _, untagged = await lease.session._run(b"UID SEARCH" + charset, *keys)
    uids: list[int] = []
    for r in untagged:
        if r.name == "SEARCH":
            uids.extend(int(v) for v in r.values if isinstance(v, bytes) and v.isdigit())
    return uids


async def _ask_account(
    host: Host, account: connections.Account, folders: list[tuple[int, str]], search: str
) -> dict[int, list[int]]:
    """{folder id: UIDs the server finds} for one account, on a session kept for requests
    (``imap_pool``: the next search, or opening a found message, logs in no more)."""

    async def ask(lease: imap_pool.Lease) -> dict[int, list[int]]:
        keys: list[bytes | Literal] | None
        if is_gmail(lease.session.capabilities):
            keys = [b" X-GM-RAW ", _string(search)]
        else:
            keys = criteria(search)
        if keys is None:
            return {}
        return {folder_id: await _search_folder(lease, name, keys) for folder_id, name in folders}

    return await imap_pool.of(host).run(account.id, ask)


async def _uids(host: Host, db: Pool | Connection, pending: list[int], search: str) -> dict[int, list[int]]:
    """{folder id: UIDs the servers find} for these accounts, from the cache or a round."""
    global rounds
    now, found, ask = time.monotonic(), {}, []
    for account_id in pending:
        hit = _cache.get((id(host), account_id, search))
        if hit and now - hit[0] < CACHE_SECONDS:
            found.update(hit[1])
        else:
            ask.append(account_id)
    by_account: dict[int, list[tuple[int, str]]] = {}
    if ask:
        for r in await db.fetch(PENDING_FOLDERS, ask):
            by_account.setdefault(r["account_id"], []).append((r["id"], r["name"]))
        ask = [a for a in ask if a in by_account]
    if not ask:
        return found
    rounds += 1
    # read before the round: ``db`` may be one connection, which the tasks could not share
    accounts = [await connections.load_account(db, a) for a in ask]
    tasks = [asyncio.ensure_future(_ask_account(host, acc, by_account[acc.id], search)) for acc in accounts]
    done, late = await asyncio.wait(tasks, timeout=TIMEOUT)
    for task in late:
        task.cancel()
    for account_id, task in zip(ask, tasks):
        answer: dict[int, list[int]] = {}
        if task not in done:
            log.info("server search: account %s did not answer within %s s", account_id, TIMEOUT)
        elif task.exception() is not None:
            log.info("server search: account %s: %s", account_id, task.exception())
        else:
            answer = task.result()
        # a server that failed is kept as "found nothing" too: the next page does not wait again
        if len(_cache) >= CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[(id(host), account_id, search)] = (now, answer)
        found.update(answer)
    if late:
        await asyncio.gather(*late, return_exceptions=True)
    return found


async def pending_matches(host: Host, db: Pool | Connection, accounts: list[int] | None, search: str) -> list[int]:
    """Ids of messages of these accounts not decoded yet whose text the mail server finds
    matching ``search``; [] when none is pending, or no server answers in time. ``accounts``
    None (a manager's read of every account) asks no server."""
    if not accounts or not search.strip():
        return []
    pending = [r["a"] for r in await db.fetch(PENDING_ACCOUNTS, accounts)]
    if not pending:
        return []
    found = await _uids(host, db, pending, search)
    folders = [f for f, uids in found.items() for _ in uids]
    uids = [u for us in found.values() for u in us]
    if not uids:
        return []
    return [r["id"] for r in await db.fetch(PENDING_IDS, folders, uids)]
