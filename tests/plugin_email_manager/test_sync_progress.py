"""``mailAccounts.syncProgress``: watched through the API while a real first sync runs, as the
admin page (or a script) would watch it."""

from __future__ import annotations

import asyncio
import time

from tests.plugin_email_manager.helpers import message

INBOX, ARCHIVE = 900, 200


async def test_a_first_sync_shows_listed_growing_to_total_then_null(mailbox):
    def raw(folder: str, i: int) -> bytes:
        return message(f"s{i}@example.test", mailbox.address, f"{folder} {i}", f"Progress body {i}\n" * 20).as_bytes()

    mailbox.dovecot.write_maildir(mailbox.address, [raw("Inbox", i) for i in range(INBOX)])
    mailbox.dovecot.write_maildir(mailbox.address, [raw("Archive", i) for i in range(ARCHIVE)], mailbox="Archive")
    await mailbox.link()

    seen: list[dict] = []  # each read of the account while the first sync and its decoding run
    end = time.monotonic() + 90
    while time.monotonic() < end:
        status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": mailbox.account_id}, method="GET")
        assert status == 200, body
        seen.append(body["data"])
        if body["data"]["status"] == "ready" and body["data"]["syncProgress"] is None:
            break
        await asyncio.sleep(0.02)
    assert "syncProgress" in seen[-1] and seen[-1]["syncProgress"] is None, seen[-1]
    assert seen[-1]["parsePending"] == 0

    progress = [d["syncProgress"] for d in seen if d["syncProgress"] is not None]
    assert len(progress) >= 2, f"{len(seen)} reads caught syncProgress set only {len(progress)} times"
    assert all(set(p) == {"listed", "total", "bodiesPending", "indexPending"} for p in progress), progress[:3]
    assert {p["total"] for p in progress} == {INBOX + ARCHIVE}
    assert all(0 <= p["bodiesPending"] <= p["listed"] and p["indexPending"] >= 0 for p in progress)
    listed = [p["listed"] for p in progress]
    assert listed == sorted(listed), "listed went back"
    assert listed[0] < INBOX + ARCHIVE and listed[-1] == INBOX + ARCHIVE, listed
    # listed from headers first: the text follows, and bodiesPending only goes down once all are listed
    assert any(p["bodiesPending"] > 0 for p in progress), progress[:3]
    # (down to null, checked above: the last batch's write may end the progress in one step)
    after = [p["bodiesPending"] for p in progress if p["listed"] == p["total"]]
    assert after == sorted(after, reverse=True), after
    # once every message is listed, what is left is their text: fetched, decoded and indexed as it comes
    assert any(p["listed"] == p["total"] and p["bodiesPending"] > 0 for p in progress), progress[-3:]

    status, body = await mailbox.api("mailAccounts:list", method="GET")
    assert status == 200 and [a["syncProgress"] for a in body["data"]] == [None], body

    # a later sync is no first sync: it stays null
    mailbox.append(message("late@example.test", mailbox.address, "Late"))
    await mailbox.sync()
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": mailbox.account_id}, method="GET")
    assert body["data"]["syncProgress"] is None
    assert len(await mailbox.messages()) == INBOX + ARCHIVE + 1
