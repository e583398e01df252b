"""``mailAccounts.syncProgress``: how far an account's first sync has come.

    null ──first sync starts──► {"listed", "total", "bodiesPending", "indexPending"}
                                   │ each stored batch: listed += n (total grows with it if mail arrives),
                                   │   bodiesPending += those listed without their text
                                   │ each batch of text fetched: bodiesPending -= n, indexPending += n
                                   │ each decoded batch (parse pass): indexPending = parsePending
                                   ▼
   the first sync ended well and nothing is left to fetch or decode ──► null (for good)

``listed`` counts the account's stored messages (listable at once), ``total`` the messages on the
server within ``syncSince`` (counted once, folder by folder, when the first sync starts),
``bodiesPending`` the listed messages whose text is not fetched yet (a first sync lists from
headers and structure, then ``bodies.fetch_texts`` fetches the text: ``texts_fetched``),
``indexPending`` the fetched messages not yet searchable (``parsePending``).

This module owns the column (``mail_accounts.sync_progress``) and every change to it: the sync
calls ``start`` and puts ``AFTER_BATCH`` and ``AT_END`` in its own statements, the parse pass
puts ``mirror(...)`` in the statements that keep ``parse_pending``, so that the counts and the
progress change in one write. Once null it stays null: a later sync never sets it, and every
expression here keeps a null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugin_email_manager.mailsync.imap import search_date

if TYPE_CHECKING:
    from asyncpg import Pool

    from plugin_email_manager.connections import Account
    from plugin_email_manager.mailsync.imap import ImapSession
    from plugin_email_manager.mailsync.store import FolderState

# after a stored batch of $2 messages, $3 of them listed without their text, in the sync's
# UPDATE of the account ``a`` (which adds the others to parse_pending in the same statement:
# a.parse_pending is the value before it)
AFTER_BATCH = """CASE WHEN a.sync_progress IS NULL THEN NULL ELSE a.sync_progress || jsonb_build_object(
    'listed', (a.sync_progress->>'listed')::int + $2,
    'total', greatest((a.sync_progress->>'total')::int, (a.sync_progress->>'listed')::int + $2),
    'bodiesPending', coalesce((a.sync_progress->>'bodiesPending')::int, 0) + $3,
    'indexPending', coalesce(a.parse_pending, 0) + $2 - $3) END"""

# the listed messages of the account ``a`` whose text is not fetched yet, counted exactly
BODIES_PENDING = (
    "(SELECT count(*)::int FROM mail_messages m WHERE m.account_id = a.id AND m.raw IS NULL AND m.texts IS NULL "
    "AND m.parse_state = 'pending' AND m.uid IS NOT NULL)"
)

# when a sync ends well, in the UPDATE that sets last_sync_at: done at once if nothing is left to
# fetch or decode, else the parse pass ends it (``mirror``); a text the server refused "not now" is
# fetched by the next sync (or when opened), one refused for good is no longer pending (bodies.py)
AT_END = f"""CASE WHEN a.sync_progress IS NULL OR (coalesce(a.parse_pending, 0) = 0 AND {BODIES_PENDING} = 0) THEN NULL
    ELSE a.sync_progress || jsonb_build_object('bodiesPending', {BODIES_PENDING}) END"""


def mirror(pending: str) -> str:
    """``sync_progress`` once ``parse_pending`` becomes the SQL expression ``pending`` (over the
    row ``a``): null when the first sync is over (it set last_sync_at) and nothing is left to
    fetch or decode."""
    return (
        f"CASE WHEN a.sync_progress IS NULL OR (a.last_sync_at IS NOT NULL AND {pending} = 0 "
        "AND coalesce((a.sync_progress->>'bodiesPending')::int, 0) = 0) THEN NULL "
        f"ELSE a.sync_progress || jsonb_build_object('indexPending', {pending}) END"
    )


async def texts_fetched(db: Pool, account_id: int, n: int, *, decoded: bool = False, refused: int = 0) -> None:
    """The text of ``n`` listed messages was fetched: they wait for the parse pass now, or with
    ``decoded`` they are searchable already (the second pass decoded them as it fetched them);
    ``refused`` more will not be fetched (the server refused their text for good)."""
    await db.execute(
        "UPDATE mail_accounts a SET parse_pending = coalesce(a.parse_pending, 0) + $3, sync_progress = "
        "CASE WHEN a.sync_progress IS NULL THEN NULL ELSE a.sync_progress || jsonb_build_object("
        "'bodiesPending', greatest(coalesce((a.sync_progress->>'bodiesPending')::int, 0) - $2, 0), "
        "'indexPending', coalesce(a.parse_pending, 0) + $3) END WHERE a.id = $1",
        account_id,
        n + refused,
        0 if decoded else n,
    )


async def is_first_sync(db: Pool, account_id: int) -> bool:
    """No sync of the account has ended well yet."""
    return await db.fetchval("SELECT last_sync_at IS NULL FROM mail_accounts WHERE id = $1", account_id) is True


async def count_on_server(session: ImapSession, account: Account, folders: list[FolderState]) -> int:
    """The messages of these folders within ``syncSince``: one EXAMINE each (and a SEARCH with a
    ``syncSince``), before the first sync fetches anything."""
    total = 0
    for folder in folders:
        info = await session.select(folder.name, readonly=True)
        if account.sync_since and info.exists:
            total += len(await session.uid_search(f"SINCE {search_date(account.sync_since)}"))
        else:
            total += info.exists
    return total


async def start(db: Pool, account_id: int, total: int) -> None:
    """The first sync begins (or begins again after a failed one: what that stored counts)."""
    await db.execute(
        "UPDATE mail_accounts a SET sync_progress = jsonb_build_object('listed', s.n, "
        "'total', greatest($2::int, s.n), 'bodiesPending', s.unfetched, 'indexPending', coalesce(a.parse_pending, 0)) "
        "FROM (SELECT count(*)::int AS n, (count(*) FILTER (WHERE m.raw IS NULL AND m.texts IS NULL "
        "AND m.parse_state = 'pending' AND m.uid IS NOT NULL))::int AS unfetched "
        "FROM mail_messages m WHERE m.account_id = $1) s WHERE a.id = $1",
        account_id,
        total,
    )
