"""The parse pass decodes the newest mail first, and holds a syncing account's backlog back
after its first screen, so that a long first sync stores everything before decoding it."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from plugin_email_manager.mailparse.pool import ParsePool
from plugin_email_manager.mailsync import parsepass
from plugin_email_manager.mailsync.parsepass import ParsePass
from tests.plugin_email_manager.test_conversations import T0, alice, mail, mail_template  # noqa: F401


async def _pending(mail, account: int, hours: list[int]) -> dict[int, int]:
    """Pending messages dated T0 + h hours, stored in the order given; answers id -> hour."""
    folder = await mail.folder(account, "inbox")
    out = {}
    for uid, h in enumerate(hours, start=1):
        raw = f"Subject: hour {h}\r\nFrom: a@example.test\r\n\r\nWritten at hour {h}.\r\n".encode()
        out[
            await mail.pool.fetchval(
                "INSERT INTO mail_messages (account_id, folder_id, uid, type, subject, date, raw, parse_state) "
                "VALUES ($1, $2, $3, 'inbox', $4, $5, $6, 'pending') RETURNING id",
                account,
                folder,
                uid,
                f"hour {h}",
                T0 + timedelta(hours=h),
                raw,
            )
        ] = h
    return out


async def _decoded_hours(mail, stored: dict[int, int]) -> list[int]:
    rows = await mail.pool.fetch(
        "SELECT id FROM mail_messages WHERE id = ANY($1::bigint[]) AND parse_state = 'ok'", list(stored)
    )
    return sorted(stored[r["id"]] for r in rows)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(parsepass, "BATCH", 2)
    monkeypatch.setattr(parsepass, "FIRST_SCREEN", 3)


def _parse_pass(mail, accounts: list[int], syncing: set[int]) -> ParsePass:
    pp = ParsePass(SimpleNamespace(db=mail.pool), accounts=lambda: accounts, syncing=lambda a: a in syncing)
    pp.pool = ParsePool(processes=False)
    return pp


async def test_the_newest_mail_is_decoded_first_whatever_order_it_was_stored_in(
    mail, alice, small_batches, monkeypatch
):
    _, acc = alice
    # a first sync stores newest first; new mail that arrives later is newer still
    stored = await _pending(mail, acc, [50, 40, 30, 20, 10, 60])
    monkeypatch.setattr(parsepass, "MAX_BATCHES", 2)
    pp = _parse_pass(mail, [acc], syncing=set())
    assert await pp.run_once()
    assert await _decoded_hours(mail, stored) == [30, 40, 50, 60]  # two batches of two
    assert await pp.run_once()
    assert await _decoded_hours(mail, stored) == [10, 20, 30, 40, 50, 60]
    text = await mail.pool.fetchval("SELECT text FROM mail_messages WHERE subject = 'hour 60'")
    assert text.strip() == "Written at hour 60."


async def test_a_syncing_account_gets_its_first_screen_then_waits_for_its_sync(mail, alice, small_batches):
    user, acc = alice
    other = await mail.account(user, "second@example.test")
    stored = await _pending(mail, acc, list(range(100, 90, -1)))
    others = await _pending(mail, other, [5, 6, 7, 8, 9])
    syncing = {acc}
    pp = _parse_pass(mail, [acc, other], syncing)
    while await pp.run_once():
        pass
    # the newest of the syncing account (the top of its inbox), in whole batches
    assert await _decoded_hours(mail, stored) == [97, 98, 99, 100]
    assert await _decoded_hours(mail, others) == [5, 6, 7, 8, 9]  # another account is not held
    assert await mail.pool.fetchval("SELECT parse_pending FROM mail_accounts WHERE id = $1", acc) == 6
    syncing.clear()  # the sync ended
    while await pp.run_once():
        pass
    assert await _decoded_hours(mail, stored) == list(range(91, 101))
    assert await mail.pool.fetchval("SELECT parse_pending FROM mail_accounts WHERE id = $1", acc) == 0


async def test_a_held_message_is_decoded_when_someone_needs_it(mail, alice, small_batches):
    _, acc = alice
    stored = await _pending(mail, acc, [1, 2, 3, 4, 5, 6])
    pp = _parse_pass(mail, [acc], syncing={acc})
    while await pp.run_once():
        pass
    oldest = next(i for i, h in stored.items() if h == 1)
    assert 1 not in await _decoded_hours(mail, stored)
    await pp.decode_now([oldest])
    assert 1 in await _decoded_hours(mail, stored)
    assert (
        await mail.pool.fetchval("SELECT text FROM mail_messages WHERE id = $1", oldest)
    ).strip() == "Written at hour 1."
