"""One sync run of an account: every folder, its log record, the account's status and progress."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from host.errors import HostError
from plugin_email_manager import connections, events, metrics, process_state
from plugin_email_manager.errors import ImapUnavailable
from plugin_email_manager.mailsync import bodies, gmail, imap, store, sync_progress
from plugin_email_manager.mailsync.folder_sync import Counts, sync_folder

if TYPE_CHECKING:
    from asyncpg import Pool

    from host.api import Host

log = logging.getLogger(__name__)

# inbox first: it is what a person looks at while the rest comes in
TYPE_ORDER = {"inbox": 0, "sent": 1, "drafts": 2, "archive": 3, "other": 4, "junk": 5, "trash": 6}


async def list_folders(db: Pool, session: imap.ImapSession, account: connections.Account) -> list[store.FolderState]:
    found = []
    for f in await session.list_folders():
        if any(flag.lower() in ("\\noselect", "\\nonexistent") for flag in f.flags):
            continue
        found.append((f.name, f.delimiter, imap.folder_type(f), f.special_use))
    if gmail.is_gmail(session.capabilities):
        found = gmail.synced_folders(found)
    found.sort(key=lambda f: (TYPE_ORDER.get(f[2], 9), f[0]))
    async with db.acquire() as conn, conn.transaction():
        return await store.upsert_folders(conn, account.id, found)


def describe(error: BaseException) -> str:
    if isinstance(error, HostError):
        return error.message
    if isinstance(error, (asyncio.TimeoutError, OSError)):
        return f"The mail server could not be reached ({type(error).__name__}: {error})."
    return f"{type(error).__name__}: {error}"


def error_code(error: BaseException) -> str:
    """The stable code of a failed sync's error (docs/error-codes.md), what the UI tells apart: a
    refused login (``MAIL_AUTH_FAILED``) from a server that is down (``IMAP_UNAVAILABLE``)."""
    if isinstance(error, HostError):
        return error.code
    if isinstance(error, (asyncio.TimeoutError, OSError)):  # TLS failures too: ssl.SSLError is an OSError
        return ImapUnavailable.code
    return HostError.code


async def sync_account(
    host: Host, account_id: int, *, only: str | None = None, notify: Callable[[Counts], Awaitable[None]] | None = None
) -> Counts:
    """Sync every folder (or only the folder type ``only``, e.g. the inbox after an IDLE wake-up).

    Writes a mailSyncLogs record, keeps the account's status, progress and lastSyncAt (and during
    its first sync, ``syncProgress``), and asks ``notify()`` to tell listeners (badge, parse
    pass) after each stored batch.
    """
    db = host.db
    account = await connections.load_account(db, account_id)
    log_id = await db.fetchval(
        "INSERT INTO mail_sync_logs (account_id, started_at, status) VALUES ($1, now(), 'running') RETURNING id",
        account_id,
    )
    counts = Counts()
    started = time.monotonic()
    try:
        session = await connections.open_imap(host, account)
        try:
            folders = await list_folders(db, session, account)
            if only:
                on_gmail = gmail.is_gmail(session.capabilities)
                folders = [f for f in folders if f.type == only or (on_gmail and gmail.holds(f.special_use, only))]
            elif await sync_progress.is_first_sync(db, account_id):
                await sync_progress.start(
                    db, account_id, await sync_progress.count_on_server(session, account, folders)
                )

            async def on_batch(step: Counts) -> None:
                # parsePending counts up here and is recounted exactly by the parse pass
                await db.execute(
                    "UPDATE mail_accounts a SET parse_pending = a.parse_pending + $2 - $3, progress = "
                    "jsonb_build_object('fetched', coalesce((a.progress->>'fetched')::int, 0) + $2), "
                    f"sync_progress = {sync_progress.AFTER_BATCH} WHERE a.id = $1",
                    account_id,
                    step.new,
                    step.unfetched,
                )
                metrics.MESSAGES_SYNCED.inc(step.new)
                if notify:
                    await notify(step)
                await events.new_mail(host, account_id, step.new_ids)

            for folder in folders:
                done = await sync_folder(db, session, account, folder, on_batch=on_batch)
                counts.add(done)
                await events.synced(host, account_id, done)

            # every folder listed: now their text, newest first (a first sync lists headers first),
            # decoded and indexed as it comes by the parse pass's workers
            try:
                decode: bodies.Decode | None = process_state.of(host).parse_pass.pool.parse_many
            except HostError:  # the plugin did not start here (a script syncing alone): the parse pass decodes later
                decode = None

            async def on_texts(n: int) -> None:  # texts stored undecoded: the parse pass decodes them
                if notify and decode is None:
                    await notify(Counts(updated=n))

            for folder in folders:
                await bodies.fetch_texts(db, session, account_id, folder, on_texts, decode)
        finally:
            await session.logout()
    except BaseException as e:
        if isinstance(e, asyncio.CancelledError):
            await _finish(db, account_id, log_id, counts, "error", "The sync was stopped.", keep_status=True)
            raise
        message = describe(e)
        log.warning("account %s: sync failed: %s", account_id, message)
        # A network failure (mail server or OAuth provider down) is retried by itself, but shown
        # all the same: with its status kept, a first sync stayed "syncing" (the UI shows the
        # error only with status "error") while nothing came in; the next good sync clears it.
        was = await db.fetchval("SELECT status FROM mail_accounts WHERE id = $1", account_id)
        await _finish(db, account_id, log_id, counts, "error", message, code=error_code(e))
        if (
            was != "error"
            and await db.fetchval("SELECT status FROM mail_accounts WHERE id = $1", account_id) == "error"
        ):
            await events.emit(host, "accountError", account_id, error=message)  # turning to error, once
        raise
    await _finish(db, account_id, log_id, counts, "ok", None)
    log.info("account %s: synced in %.2fs: %s", account_id, time.monotonic() - started, counts.as_json())
    return counts


async def _finish(
    db: Pool,
    account_id: int,
    log_id: int,
    counts: Counts,
    status: str,
    error: str | None,
    keep_status: bool = False,
    code: str | None = None,
) -> None:
    """Close the log record and set the account's status; ``error`` and ``code`` (its stable code)
    go on the account when it turns to error, and both are cleared by a good sync. A stopped sync
    (``keep_status``) changes the text alone: the code stays that of the error that put the
    account in error, if any."""
    await db.execute(
        "UPDATE mail_sync_logs SET finished_at = now(), status = $2, counts = $3::jsonb, error = $4 WHERE id = $1",
        log_id,
        status,
        counts.as_json(),
        error,
    )
    metrics.SYNC_RUNS.labels(status).inc()
    if status == "ok":
        await db.execute(
            "UPDATE mail_accounts a SET status = 'ready', error = NULL, error_code = NULL, last_sync_at = now(), "
            f"sync_progress = {sync_progress.AT_END} WHERE a.id = $1",
            account_id,
        )
    elif not keep_status:
        await db.execute(
            "UPDATE mail_accounts SET status = 'error', error = $2, error_code = $3 WHERE id = $1",
            account_id,
            error,
            code,
        )
    else:
        await db.execute("UPDATE mail_accounts SET error = $2 WHERE id = $1", account_id, error)
