"""An account in error says what kind of error it is: ``errorCode``, the stable code of the error
that put it there (a refused login, a server down, a revoked OAuth sign-in), beside ``error``'s
text, and cleared with it by the next good sync. Against the real Dovecot, halted and with its
password changed, and the test OAuth provider."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from plugin_email_manager.errors import OAuthUnavailable, TokenRefreshFailed
from plugin_email_manager.mailsync.account_sync import error_code
from plugin_email_manager.oauth import TokenProvider
from tests.plugin_email_manager.test_oauth_flow import host, link, linked_settings, oauth_provider  # noqa: F401 - fixtures
from tests.plugin_email_manager.test_tokens import add_account


async def account(mailbox) -> dict:
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": mailbox.account_id}, method="GET")
    assert status == 200, body
    return body["data"]


async def sync_until(mailbox, status: int, within: float = 20) -> dict:
    """Sync until the sync answers ``status`` (Dovecot rereads its password file by itself)."""
    end = time.monotonic() + within
    while True:
        got, body = await mailbox.api("mailAccounts:sync", {"filterByTk": mailbox.account_id, "wait": True})
        if got == status or time.monotonic() > end:
            assert got == status, body
            return body
        await asyncio.sleep(0.2)


async def test_a_server_down_then_a_changed_password_say_which_and_a_good_sync_clears_both(mailbox, dovecot):
    await mailbox.link()
    await mailbox.sync()
    assert (await account(mailbox))["errorCode"] is None

    dovecot.halt()
    try:
        body = await sync_until(mailbox, 502)
        assert body["errors"][0]["code"] == "IMAP_UNAVAILABLE", body
        row = await account(mailbox)
        # a server down: a new password would not help, and the dialog does not ask for one
        assert row["status"] == "error" and row["errorCode"] == "IMAP_UNAVAILABLE", row
        assert "could not be reached" in row["error"] or "unavailable" in row["error"], row
    finally:
        dovecot.resume()

    dovecot.add_user(mailbox.address, "changed-elsewhere")
    try:
        body = await sync_until(mailbox, 400)
        assert body["errors"][0]["code"] == "MAIL_AUTH_FAILED", body
        row = await account(mailbox)
        assert row["status"] == "error" and row["errorCode"] == "MAIL_AUTH_FAILED", row
    finally:
        dovecot.add_user(mailbox.address, mailbox.password)

    await sync_until(mailbox, 200)
    row = await account(mailbox)
    assert (row["status"], row["error"], row["errorCode"]) == ("ready", None, None), row


async def test_a_new_password_saved_clears_the_code_with_the_error(mailbox, dovecot):
    await mailbox.link()
    await mailbox.sync()
    dovecot.add_user(mailbox.address, "changed-elsewhere")  # at the mail server, for IMAP and SMTP
    mailbox.smtp.users[mailbox.address] = "changed-elsewhere"
    await sync_until(mailbox, 400)
    assert (await account(mailbox))["errorCode"] == "MAIL_AUTH_FAILED"
    status, body = await mailbox.api(
        "mailAccounts:update", {"password": "changed-elsewhere"}, query={"filterByTk": mailbox.account_id}
    )
    assert status == 200, body
    row = body["data"]
    assert row["status"] in ("syncing", "ready") and (row["error"], row["errorCode"]) == (None, None), row


async def test_a_revoked_oauth_sign_in_is_an_authentication_error(linked_settings, oauth_provider):  # noqa: F811
    account_id = await add_account(linked_settings)
    secret = await linked_settings.db.fetchval("SELECT secret FROM mail_accounts WHERE id = $1", account_id)
    oauth_provider.revoke(refresh_token=linked_settings.secrets.decrypt(secret)["refreshToken"])
    with pytest.raises(TokenRefreshFailed):
        await TokenProvider(linked_settings, account_id)(refresh=True)
    row = await linked_settings.db.fetchrow("SELECT status, error_code FROM mail_accounts WHERE id = $1", account_id)
    assert (row["status"], row["error_code"]) == ("error", "OAUTH_REAUTH_REQUIRED")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "IMAP_UNAVAILABLE"),
        (asyncio.TimeoutError(), "IMAP_UNAVAILABLE"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "IMAP_UNAVAILABLE"),
        (OAuthUnavailable("Google could not be reached."), "OAUTH_UNAVAILABLE"),
        (TokenRefreshFailed("Google sign-in expired."), "OAUTH_REAUTH_REQUIRED"),
        (KeyError("uid"), "INTERNAL_ERROR"),  # a fault of ours: not the password's either
    ],
)
def test_each_failure_of_a_sync_has_its_code(error, code):
    assert error_code(error) == code
