"""Send as (issue Email in the platform): an account's mailIdentities, the From and Reply-To of
a message sent as one, the envelope that stays the account's, and replies answered from the
identity the original was written to. Against the real servers (Dovecot, the SMTP sink)."""

from __future__ import annotations

import email
import email.policy
import uuid

from tests.plugin_email_manager.helpers import Mailbox, message


def parsed(delivery) -> email.message.EmailMessage:
    return email.message_from_bytes(delivery[2], policy=email.policy.default)


async def _linked(mailbox: Mailbox) -> None:
    mailbox.smtp.reset()
    mailbox.smtp.users[mailbox.address] = mailbox.password
    await mailbox.link()
    await mailbox.sync()


async def _identity(mailbox: Mailbox, **values) -> dict:
    status, body = await mailbox.api("mailIdentities:create", {"accountId": mailbox.account_id, **values})
    assert status == 200, body
    return body["data"]


async def test_send_as_an_identity(mailbox, mail_server):
    await _linked(mailbox)
    made = await _identity(mailbox, name="Sales Desk", email="Sales@Example.test", replyTo="team@example.test")
    status, body = await mailbox.api("mailIdentities:list", method="GET")
    assert status == 200 and [i["id"] for i in body["data"]] == [made["id"]], body

    # not an address: 400, for the email and the replyTo
    for bad in ({"email": "not an address"}, {"email": "sales2@example.test", "replyTo": "nope"}, {}):
        status, body = await mailbox.api("mailIdentities:create", {"accountId": mailbox.account_id, **bad})
        assert status == 400, (bad, body)

    # sent as the identity (case-insensitive): From and Reply-To are its, MAIL FROM the account's
    status, body = await mailbox.api(
        "mailMessages:send",
        {"accountId": mailbox.account_id, "from": "sales@example.TEST", "to": ["bob@example.test"], "subject": "Offer"},
    )
    assert status == 200, body
    (delivery,) = mailbox.smtp.messages
    msg = parsed(delivery)
    assert msg["From"].addresses[0].display_name == "Sales Desk"
    assert msg["From"].addresses[0].addr_spec == "Sales@Example.test"
    assert msg["Reply-To"].addresses[0].addr_spec == "team@example.test"
    assert delivery[0] == mailbox.address and delivery[1] == ["bob@example.test"]
    (sent,) = await mailbox.messages({"type": "sent"})
    assert sent["from"]["address"] == "Sales@Example.test"

    # the account's own address (the default too): no Reply-To
    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "from": mailbox.address.upper(),
            "to": ["bob@example.test"],
            "subject": "Own",
        },
    )
    assert status == 200, body
    own = parsed(mailbox.smtp.messages[-1])
    assert own["From"].addresses[0].addr_spec.lower() == mailbox.address.lower() and own["Reply-To"] is None

    # an address that is neither: 400 INVALID_FROM, nothing sent (send, saveDraft)
    before = len(mailbox.smtp.messages)
    for action in ("send", "saveDraft"):
        for wrong in ("someone@example.test", "not an address", ["sales@example.test"]):
            status, body = await mailbox.api(
                f"mailMessages:{action}",
                {"accountId": mailbox.account_id, "from": wrong, "to": ["bob@example.test"], "subject": "Nope"},
            )
            assert status == 400 and body["errors"][0]["code"] == "INVALID_FROM", (action, wrong, body)
    assert len(mailbox.smtp.messages) == before
    assert await mailbox.messages({"subject": "Nope"}) == []

    # another user: may not add an identity to this account, nor see, change or remove this one
    other = await mail_server.member(f"other-{uuid.uuid4().hex[:8]}@example.test")
    status, body = await mail_server.api(
        other, "mailIdentities:create", {"accountId": mailbox.account_id, "email": "x@example.test"}
    )
    assert status == 404, body
    status, body = await mail_server.api(other, "mailIdentities:list", query={}, method="GET")
    assert status == 200 and body["data"] == [], body
    for action, values in (("update", {"name": "Mine"}), ("destroy", None)):
        status, body = await mail_server.api(
            other, f"mailIdentities:{action}", values, query={"filterByTk": made["id"]}
        )
        assert status == 404, (action, body)
    # the owner may rename it, but not move it to an account that is not its own
    status, body = await mailbox.api("mailIdentities:update", {"name": "Sales"}, query={"filterByTk": made["id"]})
    assert status == 200, body
    status, body = await mailbox.api("mailIdentities:update", {"accountId": 10**9}, query={"filterByTk": made["id"]})
    assert status == 404, body
    status, body = await mailbox.api("mailIdentities:get", query={"filterByTk": made["id"]}, method="GET")
    assert body["data"]["name"] == "Sales" and body["data"]["accountId"] == mailbox.account_id, body


async def test_a_reply_answers_from_the_identity_it_was_written_to(mailbox):
    await _linked(mailbox)
    await _identity(mailbox, name="Support", email="support@example.test")
    mailbox.append(
        message(
            "Bob <bob@example.test>",
            "Support <SUPPORT@example.test>",
            "Help please",
            cc=f"carol@example.test, {mailbox.address}",
            msgid="<h1@example.test>",
        )
    )
    mailbox.append(message("Dan <dan@example.test>", mailbox.address, "Plain question", msgid="<p1@example.test>"))
    await mailbox.sync()
    (original,) = await mailbox.messages({"subject": "Help please"})

    status, prepared = await mailbox.api("mailMessages:prepareReply", {"filterByTk": original["id"], "all": True})
    assert status == 200, prepared
    assert prepared["data"]["from"] == "support@example.test"
    # reply all: Bob and Carol, never the identity nor the account itself
    addresses = {a["address"].lower() for a in prepared["data"]["to"] + prepared["data"]["cc"]}
    assert addresses == {"bob@example.test", "carol@example.test"}, prepared

    status, body = await mailbox.api(
        "mailMessages:reply", {"filterByTk": original["id"], "all": True, "text": "On it."}
    )
    assert status == 200, body
    delivery = mailbox.smtp.messages[-1]
    assert parsed(delivery)["From"].addresses[0].addr_spec == "support@example.test"
    assert sorted(delivery[1]) == ["bob@example.test", "carol@example.test"] and delivery[0] == mailbox.address

    # a message to the account itself is answered from the account
    (plain,) = await mailbox.messages({"subject": "Plain question"})
    status, prepared = await mailbox.api("mailMessages:prepareReply", {"filterByTk": plain["id"]})
    assert status == 200 and prepared["data"]["from"] == mailbox.address, prepared
