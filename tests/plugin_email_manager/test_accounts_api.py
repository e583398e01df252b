"""Adding, listing and deleting IMAP/SMTP accounts through the API, against real servers."""

from __future__ import annotations

import asyncio
import json
import subprocess

from tests.plugin_email_manager.helpers import message


async def test_a_wrong_password_is_refused_naming_the_server_and_nothing_is_stored(mailbox):
    status, body = await mailbox.api("mailAccounts:create", mailbox.account_values(password="wrong"))
    assert status == 400
    error = body["errors"][0]
    assert error["code"] == "MAIL_AUTH_FAILED" and "IMAP" in error["message"]
    mailbox.smtp.users[mailbox.address] = "something else"
    status, body = await mailbox.api("mailAccounts:create", mailbox.account_values())
    assert status == 400 and body["errors"][0]["code"] == "MAIL_AUTH_FAILED"
    assert "smtp" in json.dumps(body).lower()
    status, body = await mailbox.api("mailAccounts:list", method="GET")
    assert body["data"] == []


async def test_an_account_syncs_and_never_shows_its_password(mailbox):
    mailbox.append(message("Ann <ann@example.test>", mailbox.address, "First contact"))
    account_id = await mailbox.link()
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": account_id}, method="GET")
    assert status == 200 and mailbox.password not in json.dumps(body)
    assert "secret" not in body["data"]
    await mailbox.sync()
    rows = await mailbox.messages()
    assert [r["subject"] for r in rows] == ["First contact"]
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": account_id}, method="GET")
    assert body["data"]["status"] == "ready" and body["data"]["lastSyncAt"]
    status, logs = await mailbox.api("mailSyncLogs:list", query={"filter": {"accountId": account_id}}, method="GET")
    assert logs["data"] and logs["data"][0]["status"] in ("ok", "running")


async def test_the_database_holds_no_password_in_clear(mailbox, pg_cluster):
    await mailbox.link()
    url = mailbox.server.host.dsn
    dump = subprocess.run([str(pg_cluster.bin / "pg_dump"), url], capture_output=True, text=True, check=True).stdout
    assert mailbox.password not in dump
    assert "mail_accounts" in dump


async def test_another_member_cannot_see_sync_or_delete_the_account(mailbox):
    account_id = await mailbox.link()
    stranger = await mailbox.server.member(f"stranger-{account_id}@example.test")
    for action, body, method in (
        ("mailAccounts:get", None, "GET"),
        ("mailAccounts:sync", None, "POST"),
        ("mailAccounts:destroy", None, "POST"),
    ):
        status, answer = await mailbox.server.api(
            stranger, action, body, query={"filterByTk": account_id}, method=method
        )
        assert status == 404, (action, answer)
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": account_id}, method="GET")
    assert status == 200


async def test_deleting_one_account_removes_its_mail_and_keeps_the_others(mailbox, dovecot, mail_server):
    mailbox.append(message("x@example.test", mailbox.address, "Doomed"))
    doomed = await mailbox.link()
    await mailbox.sync()
    # a second account of the same person, on another mailbox
    other_address, other_password = "keep-" + mailbox.address, "pw-keep"
    dovecot.add_user(other_address, other_password)
    mailbox.smtp.users[other_address] = other_password
    dovecot.append(other_address, message("y@example.test", other_address, "Kept"))
    status, body = await mailbox.api(
        "mailAccounts:create",
        mailbox.account_values(email=other_address, username=other_address, password=other_password),
    )
    kept = body["data"]["id"]
    await mailbox.api("mailAccounts:sync", {"filterByTk": kept, "wait": True})
    assert {r["subject"] for r in await mailbox.messages()} == {"Doomed", "Kept"}

    status, body = await mailbox.api("mailAccounts:destroy", query={"filterByTk": doomed})
    assert status == 200
    assert [r["subject"] for r in await mailbox.messages()] == ["Kept"]
    status, _ = await mailbox.api("mailAccounts:sync", {"filterByTk": doomed, "wait": True})
    assert status == 404
    assert [r["subject"] for r in await mailbox.messages()] == ["Kept"]
    folders = await mail_server.host.db.fetchval("SELECT count(*) FROM mail_folders WHERE account_id = $1", doomed)
    assert folders == 0


async def test_an_account_whose_password_changed_is_repaired_with_update(mailbox, dovecot):
    account_id = await mailbox.link()
    await mailbox.sync()
    dovecot.add_user(mailbox.address, "changed-pw")  # the password changed on the server
    await asyncio.sleep(1.2)  # dovecot rereads its passwd file
    status, body = await mailbox.api("mailAccounts:sync", {"filterByTk": account_id, "wait": True})
    assert status == 400 and body["errors"][0]["code"] == "MAIL_AUTH_FAILED"
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": account_id}, method="GET")
    assert body["data"]["status"] == "error"
    status, body = await mailbox.api(
        "mailAccounts:update", {"password": "still-wrong"}, query={"filterByTk": account_id}
    )
    assert status == 400 and body["errors"][0]["code"] == "MAIL_AUTH_FAILED"
    mailbox.smtp.users[mailbox.address] = "changed-pw"
    status, body = await mailbox.api(
        "mailAccounts:update", {"password": "changed-pw", "displayName": "Work"}, query={"filterByTk": account_id}
    )
    assert status == 200 and body["data"]["displayName"] == "Work" and "changed-pw" not in str(body)
    status, body = await mailbox.api("mailAccounts:sync", {"filterByTk": account_id, "wait": True})
    assert status == 200 and body["data"]["account"]["status"] == "ready"
    status, body = await mailbox.api(
        "mailAccounts:update", {"email": "other@example.test"}, query={"filterByTk": account_id}
    )
    assert status == 400


async def test_a_server_name_no_resolver_can_encode_is_a_400_naming_it(mail_server):
    # found by the API fuzz: "\x96" as imapHost made the IDNA codec raise out of the connection (500)
    token = await mail_server.member("idna-host@example.test")
    values = {
        "email": "ann@example.test",
        "password": "pw-12345",
        "imapHost": "\x96",
        "imapPort": 993,
        "smtpHost": "smtp.example.test",
        "smtpPort": 465,
    }
    status, body = await mail_server.api(token, "mailAccounts:create", values)
    assert status == 400 and body["errors"][0]["code"] == "INVALID_VALUE"
    assert body["errors"][0]["field"] == "imapHost"
    status, body = await mail_server.api(
        token, "mailAccounts:create", {**values, "imapHost": "imap.example.test", "smtpHost": "a..b"}
    )
    assert status == 400 and body["errors"][0]["field"] == "smtpHost"
    status, body = await mail_server.api(token, "mailAccounts:list", method="GET")
    assert body["data"] == []


async def test_linking_again_with_an_account_id_beyond_any_id_is_a_400(mail_server):
    # found by the API fuzz: an accountId past the bigint range reached SQL and raised (500)
    token = await mail_server.member("huge-id@example.test")
    for account_id in (2**70, -(2**64), "9" * 30):
        status, body = await mail_server.api(
            token, "mailAccounts:link", {"provider": "google", "accountId": account_id}
        )
        assert status == 400 and body["errors"][0]["field"] == "accountId", body
