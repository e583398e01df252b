"""``mailAccounts:resync`` against a real Dovecot: every message fetched again from scratch, once,
with the person's labels, to-do marks and notes back on the same messages."""

from __future__ import annotations

from tests.plugin_email_manager.helpers import message


async def test_a_resync_fetches_everything_again_and_keeps_labels_todos_and_notes(mailbox):
    for i in range(12):
        mailbox.append(message(f"s{i}@example.test", mailbox.address, f"Resync {i}"))
    mailbox.append(message("b@example.test", mailbox.address, "Archived one"), mailbox="Archive")
    mailbox.append(message(mailbox.address, "c@example.test", "Sent one"), mailbox="Sent", flags="\\Seen")
    await mailbox.link()
    await mailbox.sync()
    before = {r["subject"]: r for r in await mailbox.messages()}
    assert len(before) == 14
    labelled, todo, noted = before["Resync 3"], before["Archived one"], before["Sent one"]
    status, _ = await mailbox.api(
        "mailMessages:update", {"labels": ["Work", "Q3"]}, query={"filterByTk": labelled["id"]}
    )
    assert status == 200
    status, _ = await mailbox.api("mailMessages:update", {"todo": True}, query={"filterByTk": todo["id"]})
    assert status == 200
    status, body = await mailbox.api("mailMessageNotes:create", {"mailMessageId": noted["id"], "content": "Call back"})
    assert status == 200, body

    status, body = await mailbox.api("mailAccounts:resync", {"filterByTk": mailbox.account_id})
    assert status == 200, body
    await mailbox.parsed()
    after = await mailbox.messages()
    assert sorted(r["subject"] for r in after) == sorted(before)  # each once
    by_subject = {r["subject"]: r for r in after}
    assert not {r["id"] for r in after} & {r["id"] for r in before.values()}  # fetched again: new rows
    assert by_subject["Resync 3"]["labels"] == ["Q3", "Work"]
    assert by_subject["Archived one"]["todo"] is True and by_subject["Archived one"]["type"] == "archive"
    assert [r["subject"] for r in after if r["labels"]] == ["Resync 3"]
    assert [r["subject"] for r in after if r["todo"]] == ["Archived one"]
    status, body = await mailbox.api("mailMessageNotes:list", query={"paginate": "false"}, method="GET")
    assert status == 200, body
    assert [(n["mailMessageId"], n["content"]) for n in body["data"]] == [(by_subject["Sent one"]["id"], "Call back")]

    await mailbox.sync()  # an ordinary sync after it: nothing twice, nothing lost
    again = await mailbox.messages()
    assert sorted((r["id"], r["subject"]) for r in again) == sorted((r["id"], r["subject"]) for r in after)


async def test_someone_elses_account_cannot_be_resynced(mailbox):
    await mailbox.link()
    other = await mailbox.server.member("someone-else@example.test")
    status, _ = await mailbox.server.api(other, "mailAccounts:resync", {"filterByTk": mailbox.account_id})
    assert status == 404
