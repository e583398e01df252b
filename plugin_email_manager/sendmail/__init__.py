"""Sending mail: recipients as typed (``addresses``), the MIME message (``compose``), reply and
forward drafts (``replies``) and delivery over SMTP (``smtp``).

A send, as the ``mailMessages:send`` action does it::

    check_size(attachments, settings.max_message_mib)          # 413 before anything else
    to, cc, bcc = (parse_recipients(params.get(k)) for k in ("to", "cc", "bcc"))
    msg = build_message(from_addr=..., to=to, cc=cc, bcc=bcc, subject=..., text=..., html=...,
                        attachments=attachments, in_reply_to=..., references=...)
    reply = await deliver(msg, host=..., port=..., security=..., username=..., password=...,
                          token_provider=..., envelope_from=envelope_sender(msg),
                          recipients=envelope_recipients(msg, bcc))
    # then APPEND msg.as_bytes() to Sent (unless the provider files it itself)
"""

from plugin_email_manager.sendmail.compose import (
    attachments_size,
    build_message,
    check_size,
    envelope_recipients,
    envelope_sender,
    html_to_text,
)
from plugin_email_manager.sendmail.recipients import format_address, parse_recipients
from plugin_email_manager.sendmail.replies import prepare_forward, prepare_reply, trim_references, with_quote
from plugin_email_manager.sendmail.smtp import check_login, deliver

__all__ = [
    "attachments_size",
    "build_message",
    "check_login",
    "check_size",
    "deliver",
    "envelope_recipients",
    "envelope_sender",
    "format_address",
    "html_to_text",
    "parse_recipients",
    "prepare_forward",
    "prepare_reply",
    "trim_references",
    "with_quote",
]
