"""Writing mail through the API: what arrives at the SMTP server, what is filed, what fails."""

from __future__ import annotations

import base64
import email
import email.policy

from tests.plugin_email_manager.helpers import message

PDF = b"%PDF-1.4 test " * 200


def parsed(delivery) -> email.message.EmailMessage:
    return email.message_from_bytes(delivery[2], policy=email.policy.default)


async def _linked(mailbox):
    mailbox.smtp.reset()
    mailbox.smtp.users[mailbox.address] = mailbox.password
    await mailbox.link()
    await mailbox.sync()


async def test_a_new_message_arrives_whole_and_is_filed_once(mailbox):
    await _linked(mailbox)
    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "to": ["Bob <bob@example.test>"],
            "cc": ["carol@example.test"],
            "bcc": ["hidden@example.test"],
            "subject": "Grüße und Angebot ✓",
            "text": "Hallo Bob,\nanbei.",
            "attachments": [
                {
                    "filename": "Angebot März.pdf",
                    "contentType": "application/pdf",
                    "content": base64.b64encode(PDF).decode(),
                }
            ],
        },
    )
    assert status == 200, body
    (delivery,) = mailbox.smtp.messages
    assert set(delivery[1]) == {"bob@example.test", "carol@example.test", "hidden@example.test"}
    msg = parsed(delivery)
    assert msg["Bcc"] is None and b"hidden@example.test" not in delivery[2].split(b"\r\n\r\n")[0]
    assert str(msg["Subject"]) == "Grüße und Angebot ✓"
    assert msg.get_body(("plain",)).get_content().startswith("Hallo Bob,")
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "Angebot März.pdf" and att.get_content() == PDF
    assert msg["Message-ID"].endswith("@example.test>")
    sent = await mailbox.messages({"type": "sent"})
    assert [m["subject"] for m in sent] == ["Grüße und Angebot ✓"]
    # filed in the server's Sent folder (appendSent), and the next sync does not show it twice
    await mailbox.sync()
    assert len(await mailbox.messages({"type": "sent"})) == 1
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("Sent")
    assert other.uid("SEARCH", None, "ALL")[1][0].split()
    other.logout()


async def test_replies_go_to_the_right_people_and_stay_in_the_conversation(mailbox):
    await _linked(mailbox)
    mailbox.append(
        message(
            "Bob <bob@example.test>",
            mailbox.address,
            "Question",
            cc=f"carol@example.test, {mailbox.address.upper()}, CAROL@example.test",
            reply_to="Bob Desk <desk@example.test>",
            msgid="<q1@example.test>",
            references="<q0@example.test>",
        )
    )
    await mailbox.sync()
    (original,) = await mailbox.messages({"subject": "Question"})
    status, prepared = await mailbox.api("mailMessages:prepareReply", {"filterByTk": original["id"], "all": True})
    assert status == 200 and prepared["data"]["subject"] == "Re: Question"
    assert "wrote:" in prepared["data"]["text"]

    status, body = await mailbox.api("mailMessages:reply", {"filterByTk": original["id"], "text": "Yes."})
    assert status == 200, body
    reply = parsed(mailbox.smtp.messages[-1])
    assert mailbox.smtp.messages[-1][1] == ["desk@example.test"]
    assert str(reply["Subject"]) == "Re: Question"
    assert reply["In-Reply-To"] == "<q1@example.test>"
    assert reply["References"].split() == ["<q0@example.test>", "<q1@example.test>"]
    assert "> Hello there." in reply.get_body(("plain",)).get_content()

    status, body = await mailbox.api("mailMessages:reply", {"filterByTk": original["id"], "all": True, "text": "All."})
    assert status == 200, body
    assert sorted(mailbox.smtp.messages[-1][1]) == ["carol@example.test", "desk@example.test"]

    # the sent replies are in the original's conversation, which counts 3 messages
    status, threads = await mailbox.api("mailMessages:listThreads", query={"filter": {"type": "sent"}}, method="GET")
    (row,) = [t for t in threads["data"] if t["threadId"] == original["threadId"]]
    assert row["count"] == 3 and row["main"]["type"] == "sent"
    status, again = await mailbox.api("mailMessages:prepareReply", {"filterByTk": body["data"]["id"]})
    assert again["data"]["subject"] == "Re: Question"  # never "Re: Re:"
    status, got = await mailbox.api("mailMessages:get", query={"filterByTk": original["id"]}, method="GET")
    assert got["data"]["answered"] is True


async def test_a_forward_carries_the_attachments(mailbox):
    await _linked(mailbox)
    mailbox.append(
        message(
            "Ann <ann@example.test>",
            mailbox.address,
            "Report",
            "See attached.",
            attachment=("q3.pdf", PDF, "application/pdf"),
        )
    )
    await mailbox.sync()
    (original,) = await mailbox.messages({"subject": "Report"})
    status, prepared = await mailbox.api("mailMessages:prepareForward", {"filterByTk": original["id"]})
    assert prepared["data"]["subject"] == "Fwd: Report"
    assert [a["filename"] for a in prepared["data"]["attachments"]] == ["q3.pdf"]
    status, body = await mailbox.api(
        "mailMessages:forward", {"filterByTk": original["id"], "to": ["dan@example.test"], "text": "FYI"}
    )
    assert status == 200, body
    fwd = parsed(mailbox.smtp.messages[-1])
    assert str(fwd["Subject"]) == "Fwd: Report"
    assert [a.get_filename() for a in fwd.iter_attachments()] == ["q3.pdf"]
    assert list(fwd.iter_attachments())[0].get_content() == PDF
    assert "Forwarded message" in fwd.get_body(("plain",)).get_content()


async def test_over_the_size_limit_nothing_is_sent(mailbox):
    await _linked(mailbox)
    big = base64.b64encode(b"x" * (26 * 1024 * 1024)).decode()
    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "to": ["bob@example.test"],
            "subject": "big",
            "text": "x",
            "attachments": [{"filename": "big.bin", "contentType": "application/octet-stream", "content": big}],
        },
    )
    assert status == 413 and body["errors"][0]["code"] == "ATTACHMENT_TOO_LARGE"
    assert "25 MiB" in body["errors"][0]["message"]
    assert mailbox.smtp.messages == []


async def test_a_line_break_in_the_subject_adds_no_header(mailbox):
    await _linked(mailbox)
    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "to": ["bob@example.test"],
            "subject": "hi\r\nBcc: evil@example.test",
            "text": "x",
        },
    )
    if status == 200:
        (delivery,) = mailbox.smtp.messages
        assert "evil@example.test" not in delivery[1] and b"\nBcc:" not in delivery[2]
    else:
        assert status == 400 and mailbox.smtp.messages == []
    status, body = await mailbox.api(
        "mailMessages:send",
        {"accountId": mailbox.account_id, "to": ["Eve\r\nBcc: x@example.test <eve@example.test>"], "text": "x"},
    )
    assert status == 400


async def test_smtp_failures_keep_a_draft_and_a_retry_sends_once(mailbox):
    await _linked(mailbox)
    mailbox.smtp.refuse.add("nobody@example.test")
    status, body = await mailbox.api(
        "mailMessages:send",
        {"accountId": mailbox.account_id, "to": ["nobody@example.test"], "subject": "Refused", "text": "x"},
    )
    err = body["errors"][0]
    assert status == 422 and err["code"] == "SMTP_REJECTED" and "550" in err["reply"] and err["draftId"]
    assert mailbox.smtp.messages == []

    mailbox.smtp.fail_next_data = "421 4.3.0 try later"
    status, body = await mailbox.api(
        "mailMessages:send",
        {"accountId": mailbox.account_id, "to": ["bob@example.test"], "subject": "Later", "text": "x"},
    )
    assert status == 502 and body["errors"][0]["code"] == "SMTP_UNAVAILABLE"
    draft_id = body["errors"][0]["draftId"]
    status, drafts = await mailbox.api("mailMessages:list", query={"filter": {"type": "drafts"}}, method="GET")
    assert {d["subject"] for d in drafts["data"]} >= {"Refused", "Later"}

    mailbox.smtp.cut_next = True
    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "to": ["bob@example.test"],
            "subject": "Later",
            "text": "x",
            "draftId": draft_id,
        },
    )
    assert status == 502 and body["errors"][0]["draftId"] == draft_id

    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "to": ["bob@example.test"],
            "subject": "Later",
            "text": "x",
            "draftId": draft_id,
        },
    )
    assert status == 200, body
    status, body = await mailbox.api(
        "mailMessages:send",
        {
            "accountId": mailbox.account_id,
            "to": ["bob@example.test"],
            "subject": "Later",
            "text": "x",
            "draftId": draft_id,
        },
    )
    assert status == 200
    assert [parsed(d)["Subject"] for d in mailbox.smtp.messages] == ["Later"]  # sent once
    status, drafts = await mailbox.api("mailMessages:list", query={"filter": {"type": "drafts"}}, method="GET")
    assert "Later" not in {d["subject"] for d in drafts["data"]}


async def test_a_saved_draft_is_in_the_servers_drafts_folder(mailbox):
    await _linked(mailbox)
    status, body = await mailbox.api(
        "mailMessages:saveDraft",
        {"accountId": mailbox.account_id, "to": ["bob@example.test"], "subject": "Half written", "text": "So far"},
    )
    assert status == 200, body
    draft_id = body["data"]["id"]
    status, body = await mailbox.api(
        "mailMessages:saveDraft",
        {
            "accountId": mailbox.account_id,
            "to": ["bob@example.test"],
            "subject": "Half written",
            "text": "More",
            "draftId": draft_id,
        },
    )
    assert body["data"]["id"] == draft_id
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("Drafts")
    assert len(other.uid("SEARCH", None, "ALL")[1][0].split()) == 1
    other.logout()
    await mailbox.sync()
    drafts = await mailbox.messages({"type": "drafts"})
    assert [d["subject"] for d in drafts] == ["Half written"]


async def test_attachments_may_come_as_multipart_form_data(mailbox):
    import aiohttp

    await _linked(mailbox)
    form = aiohttp.FormData(quote_fields=False)  # as browsers send names: UTF-8, not %-encoded
    form.add_field("accountId", str(mailbox.account_id))
    form.add_field("to", '["Bob <bob@example.test>"]')
    form.add_field("subject", "By form")
    form.add_field("text", "Attached.")
    form.add_field("attachments", PDF, filename="résumé.pdf", content_type="application/pdf")
    async with mailbox.server.session.post(
        mailbox.server.base_url + "/api/mailMessages:send",
        data=form,
        headers={"Authorization": f"Bearer {mailbox.token}"},
    ) as r:
        assert r.status == 200, await r.text()
    (delivery,) = mailbox.smtp.messages
    (att,) = list(parsed(delivery).iter_attachments())
    assert att.get_filename() == "résumé.pdf" and att.get_content() == PDF
