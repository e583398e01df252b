"""Moving messages between folders (``mailMessages:move``) against a real Dovecot, whose Archive
folder is \\Archive: the message keeps its row, in the new folder with its new UID, and a sync
neither duplicates it nor brings it back."""

from __future__ import annotations

import uuid

from tests.plugin_email_manager.helpers import Mailbox, message


def held_in(mailbox: Mailbox, folder: str, subject: str) -> bool:
    """Whether the server's folder holds this message, as another IMAP client finds it."""
    client = mailbox.dovecot.imap(mailbox.address)
    try:
        client.select(folder)
        _, data = client.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
        return bool(data[0].split())
    finally:
        client.logout()


async def folders(mailbox: Mailbox) -> dict[str, dict]:
    status, body = await mailbox.api("mailFolders:list", query={"paginate": "false"}, method="GET")
    assert status == 200, body
    return {f["name"]: f for f in body["data"]}


async def second_mailbox(mailbox: Mailbox) -> Mailbox:
    address, password = f"u{uuid.uuid4().hex[:10]}@example.test", "pw-" + uuid.uuid4().hex[:8]
    mailbox.dovecot.add_user(address, password)
    mailbox.smtp.users[address] = password
    token = await mailbox.server.member(address.replace("@", "+member@"))
    return Mailbox(mailbox.server, mailbox.dovecot, mailbox.smtp, token, address, password)


async def test_a_message_moves_to_archive_and_back_keeping_its_row(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "Archive me"))
    mailbox.append(message("b@example.test", mailbox.address, "Stay here"))
    await mailbox.link()
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Archive me"})
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": row["id"], "folder": "archive"})
    assert status == 200, body
    assert held_in(mailbox, "Archive", "Archive me") and not held_in(mailbox, "INBOX", "Archive me")
    (moved,) = await mailbox.messages({"subject": "Archive me"})
    by_name = await folders(mailbox)
    assert moved["id"] == row["id"] and moved["type"] == "archive"  # at once, without a sync
    assert moved["folderId"] == by_name["Archive"]["id"] and moved["uid"] is not None
    await mailbox.sync()
    assert [(r["id"], r["type"]) for r in await mailbox.messages({"subject": "Archive me"})] == [(row["id"], "archive")]

    status, body = await mailbox.api("mailMessages:move", {"filterByTk": [row["id"]], "folder": "inbox"})
    assert status == 200, body
    assert held_in(mailbox, "INBOX", "Archive me") and not held_in(mailbox, "Archive", "Archive me")
    await mailbox.sync()
    assert [(r["id"], r["type"]) for r in await mailbox.messages({"subject": "Archive me"})] == [(row["id"], "inbox")]
    assert [r["type"] for r in await mailbox.messages({"subject": "Stay here"})] == ["inbox"]


async def test_a_folder_id_names_the_destination_and_labels_stay(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "Junk by id"))
    await mailbox.link()
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Junk by id"})
    await mailbox.api("mailMessages:update", {"labels": ["Keep"]}, query={"filterByTk": row["id"]})
    junk = (await folders(mailbox))["Junk"]
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": row["id"], "folder": junk["id"]})
    assert status == 200, body
    assert held_in(mailbox, "Junk", "Junk by id")
    await mailbox.sync()
    (moved,) = await mailbox.messages({"subject": "Junk by id"})
    assert (moved["id"], moved["type"], moved["folderId"], moved["labels"]) == (row["id"], "junk", junk["id"], ["Keep"])


async def test_what_lies_outside_the_callers_mail_is_not_found_and_nonsense_refused(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "Mine"))
    await mailbox.link()
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Mine"})
    other = await second_mailbox(mailbox)
    other.append(message("c@example.test", other.address, "Theirs"))
    await other.link()
    await other.sync()
    status, _ = await other.api("mailMessages:move", {"filterByTk": row["id"], "folder": "archive"})
    assert status == 404  # another's message
    their_archive = (await folders(other))["Archive"]
    status, _ = await mailbox.api("mailMessages:move", {"filterByTk": row["id"], "folder": their_archive["id"]})
    assert status == 404  # a folder of another's account
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": row["id"], "folder": "attic"})
    assert status == 400, body
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": row["id"]})
    assert status == 400, body
    assert held_in(mailbox, "INBOX", "Mine")
    assert [r["type"] for r in await mailbox.messages({"subject": "Mine"})] == ["inbox"]


async def test_messages_of_two_accounts_each_move_within_their_own(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "From the first"))
    await mailbox.link()
    await mailbox.sync()
    address, password = f"u{uuid.uuid4().hex[:10]}@example.test", "pw-" + uuid.uuid4().hex[:8]
    mailbox.dovecot.add_user(address, password)
    mailbox.smtp.users[address] = password
    second = Mailbox(mailbox.server, mailbox.dovecot, mailbox.smtp, mailbox.token, address, password)  # same person
    second.append(message("b@example.test", address, "From the second"))
    await second.link()
    await second.sync()
    ids = [(await mailbox.messages({"subject": s}))[0]["id"] for s in ("From the first", "From the second")]
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": ids, "folder": "archive"})
    assert status == 200, body
    assert held_in(mailbox, "Archive", "From the first") and held_in(second, "Archive", "From the second")
    status, body = await mailbox.api("mailFolders:list", query={"paginate": "false"}, method="GET")
    archives = {f["id"] for f in body["data"] if f["type"] == "archive"}  # one per account
    moved = await mailbox.messages({"id": {"$in": ids}})
    assert (
        len(archives) == 2 and {m["folderId"] for m in moved} == archives and {m["type"] for m in moved} == {"archive"}
    )
