"""Filtering the conversation list by a label, as the email center's "Labels" filter asks for it:
``{"labels": {"$includes": [name]}}`` (JSON containment: the exact name, never a part of one)."""

from __future__ import annotations

from tests.plugin_email_manager.helpers import message


async def test_list_threads_filtered_by_a_label_answers_its_conversations_only(mailbox):
    for subject in ("Quarterly plan", "Homework help", "Lunch on Friday"):
        mailbox.append(message("bob@example.test", mailbox.address, subject))
    await mailbox.link()
    await mailbox.sync()
    ids = {m["subject"]: m["id"] for m in await mailbox.messages()}
    for subject, labels in (("Quarterly plan", ["Work"]), ("Homework help", ["Homework", "Kids"])):
        status, body = await mailbox.api("mailMessages:update", {"labels": labels}, query={"filterByTk": ids[subject]})
        assert status == 200, body

    async def subjects(label: str, **extra) -> list[str]:
        status, body = await mailbox.api(
            "mailMessages:listThreads", {"filter": {"labels": {"$includes": [label]}, **extra}}
        )
        assert status == 200, body
        return sorted(r["main"]["subject"] for r in body["data"])

    assert await subjects("Work") == ["Quarterly plan"]  # not "Homework"
    assert await subjects("Kids") == ["Homework help"]
    assert await subjects("Work", type="inbox", read=False) == ["Quarterly plan"]
    assert await subjects("Travel") == []
    rows = await mailbox.messages({"labels": {"$includes": ["Homework"]}})
    assert [(m["subject"], m["labels"]) for m in rows] == [("Homework help", ["Homework", "Kids"])]
