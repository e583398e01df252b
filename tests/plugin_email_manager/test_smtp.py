"""Delivery against a real SMTP server (aiosmtpd): what arrives, and what the user is told."""

from __future__ import annotations

import time

import pytest

from plugin_email_manager.errors import MailAuthFailed, SmtpRejected, SmtpUnavailable
from plugin_email_manager.sendmail.compose import build_message, envelope_recipients
from plugin_email_manager.sendmail.smtp import check_login, deliver
from tests.servers.net import free_port
from tests.servers.smtp import SmtpSink

USER, PASSWORD = "ann@example.test", "s3cret"


@pytest.fixture(scope="module")
def sink():
    server = SmtpSink(users={USER: PASSWORD}, tokens={"good-token": USER}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean(sink):
    sink.reset()


def message(**changes):
    fields = dict(
        from_addr={"name": "Ann", "address": USER},
        to=["Bob <bob@example.test>"],
        cc=["carol@example.test"],
        subject="Grüße ✓",
        text="Hello Bob",
    )
    fields.update(changes)
    return build_message(**fields)


def send(sink, msg, bcc=(), **kwargs):
    options = dict(
        host=sink.host,
        port=sink.port,
        security="none",
        username=USER,
        password=PASSWORD,
        envelope_from=USER,
        recipients=envelope_recipients(msg, bcc),
        timeout=5,
    )
    options.update(kwargs)
    return deliver(msg, **options)


class Tokens:
    """A token provider as the OAuth module gives one: a stale token first, a good one on refresh."""

    def __init__(self, first="stale-token", refreshed="good-token"):
        self.first, self.refreshed, self.calls = first, refreshed, []

    async def __call__(self, refresh: bool = False) -> str:
        self.calls.append(refresh)
        return self.refreshed if refresh else self.first


async def test_password_login_delivers_to_every_recipient(sink):
    msg = message()
    reply = await send(sink, msg, bcc=["hidden@example.test"])
    assert reply.startswith("250")
    [delivery] = sink.messages
    mail_from, rcpt_tos, content = delivery
    assert mail_from == USER and delivery.login == USER
    assert rcpt_tos == ["bob@example.test", "carol@example.test", "hidden@example.test"]
    got = delivery.parsed()
    assert got["subject"] == "Grüße ✓" and got["message-id"] == msg["Message-ID"]
    assert b"hidden@" not in content


async def test_xoauth2_login(sink):
    tokens = Tokens(first="good-token")
    await send(sink, message(), password=None, token_provider=tokens)
    assert sink.messages[0].login == USER
    assert tokens.calls == [False]


async def test_refused_token_is_refreshed_once_then_the_message_goes(sink):
    tokens = Tokens()
    await send(sink, message(), password=None, token_provider=tokens)
    assert tokens.calls == [False, True]
    assert [(m, ok) for m, _, ok in sink.auth_log] == [("XOAUTH2", False), ("XOAUTH2", True)]
    assert len(sink.messages) == 1


async def test_token_refused_even_after_refresh_is_an_auth_failure(sink):
    tokens = Tokens(refreshed="still-bad")
    with pytest.raises(MailAuthFailed) as err:
        await send(sink, message(), password=None, token_provider=tokens)
    assert tokens.calls == [False, True]
    assert err.value.extra["server"] == "smtp" and "SMTP" in err.value.message
    assert sink.messages == []


async def test_wrong_password_is_mail_auth_failed_and_nothing_is_sent(sink):
    with pytest.raises(MailAuthFailed) as err:
        await send(sink, message(), password="wrong")
    assert err.value.status == 400 and err.value.code == "MAIL_AUTH_FAILED"
    assert "535" in err.value.extra["reply"]
    assert sink.messages == []


async def test_one_refused_recipient_stops_the_whole_message(sink):
    sink.refuse.add("Carol@Example.test")
    with pytest.raises(SmtpRejected) as err:
        await send(sink, message())
    assert err.value.status == 422 and err.value.code == "SMTP_REJECTED"
    assert err.value.extra["reply"].startswith("550 5.1.1")
    assert err.value.extra["recipients"] == ["carol@example.test"]
    assert sink.messages == []  # not even to Bob
    # the same connection settings work again at once
    sink.refuse.clear()
    await send(sink, message())
    assert len(sink.messages) == 1


async def test_permanent_data_failure_is_rejected_with_the_reply(sink):
    sink.fail_next_data = "554 5.6.0 Message content rejected"
    with pytest.raises(SmtpRejected) as err:
        await send(sink, message())
    assert err.value.extra["reply"] == "554 5.6.0 Message content rejected"


async def test_temporary_failure_is_unavailable_with_the_reply(sink):
    sink.fail_next_data = "421 4.3.0 Try again later"
    with pytest.raises(SmtpUnavailable) as err:
        await send(sink, message())
    assert err.value.status == 502 and err.value.code == "SMTP_UNAVAILABLE"
    assert err.value.extra["reply"] == "421 4.3.0 Try again later"
    assert sink.messages == []


async def test_connection_cut_during_data_is_unavailable(sink):
    sink.cut_next = True
    with pytest.raises(SmtpUnavailable):
        await send(sink, message())
    assert sink.messages == []


async def test_connection_refused_is_unavailable_at_once(sink):
    started = time.monotonic()
    with pytest.raises(SmtpUnavailable):
        await send(sink, message(), port=free_port(), timeout=30)
    assert time.monotonic() - started < 2


async def test_check_login(sink):
    await check_login(sink.host, sink.port, "none", USER, PASSWORD)
    await check_login(sink.host, sink.port, "none", USER, token_provider=Tokens(first="good-token"))
    with pytest.raises(MailAuthFailed):
        await check_login(sink.host, sink.port, "none", USER, "wrong")
    with pytest.raises(SmtpUnavailable):
        await check_login(sink.host, free_port(), "none", USER, PASSWORD)
    # a server without STARTTLS, when STARTTLS was asked for: never fall back to plain text
    with pytest.raises(SmtpUnavailable):
        await check_login(sink.host, sink.port, "starttls", USER, PASSWORD, timeout=5)
    assert sink.messages == []
