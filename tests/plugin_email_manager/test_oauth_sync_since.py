"""The sync start date chosen when linking a Google account (the link form's date picker):
``mailAccounts:link`` takes ``syncSince``, the account the callback creates keeps it, and its first
sync brings only the mail since then; a malformed date is refused before the provider is asked."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from tests.plugin_email_manager.helpers import message
from tests.plugin_email_manager.test_linking import USER, accounts_of, consent, google, provider  # noqa: F401 - fixtures


async def test_an_oauth_link_with_a_sync_start_date_syncs_the_mail_since_then(google, mail_server, dovecot):
    tag = uuid.uuid4().hex[:8]
    old, new = f"Old news {tag}", f"Fresh news {tag}"
    dovecot.append(USER, message("Hal <hal@example.test>", USER, old), when=datetime(2021, 3, 1, tzinfo=timezone.utc))
    dovecot.append(USER, message("Hal <hal@example.test>", USER, new), when=datetime(2024, 6, 1, tzinfo=timezone.utc))

    status, body = await mail_server.api(google, "mailAccounts:link", {"provider": "google", "syncSince": "2024-01-01"})
    assert status == 200, body
    status, page, _ = await consent(body["data"]["authorizationUrl"])
    assert status == 200, page
    (account,) = await accounts_of(mail_server, google)
    assert account["syncSince"].startswith("2024-01-01")
    status, body = await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    assert status == 200, body
    status, body = await mail_server.api(
        google, "mailMessages:list", method="GET", query={"filter": {"subject": {"$includes": tag}}}
    )
    assert status == 200, body
    assert [m["subject"] for m in body["data"]] == [new]


async def test_an_oauth_link_without_a_date_syncs_everything_and_a_bad_date_is_refused(google, mail_server):
    status, body = await mail_server.api(
        google, "mailAccounts:link", {"provider": "google", "syncSince": "last spring"}
    )
    assert status == 400 and body["errors"][0]["code"] == "INVALID_VALUE", body
    status, body = await mail_server.api(google, "mailAccounts:link", {"provider": "google"})
    assert status == 200, body
    status, page, _ = await consent(body["data"]["authorizationUrl"])
    assert status == 200, page
    (account,) = await accounts_of(mail_server, google)
    assert account["syncSince"] is None
