"""The email manager's domain errors: each a ``host.errors`` class with a stable ``code``.

Extra keyword arguments become keys of the error's JSON (``server="imap"``, ``draftId=...``).
Network-side failures also inherit ``ConnectionError`` (through ``BadGateway``), so code that
retries on connection trouble catches them without knowing the plugin.
"""

from __future__ import annotations

from host.errors import (
    BadGateway,
    BadRequest,
    HostError,
    PayloadTooLarge,
    Unprocessable,
)


class MailAuthFailed(BadRequest):
    """The mail server refused the login (password or OAuth token); ``server``: "imap" or "smtp"."""

    code = "MAIL_AUTH_FAILED"


class TokenRefreshFailed(BadRequest):
    """The OAuth provider refused the refresh token: the person must link the account again."""

    code = "OAUTH_REAUTH_REQUIRED"


class InvalidAddress(BadRequest):
    code = "INVALID_ADDRESS"


class AttachmentTooLarge(PayloadTooLarge):
    code = "ATTACHMENT_TOO_LARGE"


class SmtpRejected(Unprocessable):
    """A 5xx reply to the message or a recipient; the reply goes in the extra keys."""

    code = "SMTP_REJECTED"


class ImapUnavailable(BadGateway):
    """The IMAP server could not be reached, timed out, dropped the connection or said BYE."""

    code = "IMAP_UNAVAILABLE"


class ImapCommandFailed(BadGateway):
    """The IMAP server answered NO or BAD to a command (e.g. SELECT of a folder deleted meanwhile).

    Not a connection problem: retrying the same command on a new connection will not help.
    ``responseCode`` carries the server's bracketed code when it gave one (``NONEXISTENT``, ...).
    """

    code = "IMAP_COMMAND_FAILED"
    answer = "NO"  # or "BAD": a command the server did not understand (not the message's fault)


class SmtpUnavailable(BadGateway):
    code = "SMTP_UNAVAILABLE"


class OAuthUnavailable(BadGateway):
    code = "OAUTH_UNAVAILABLE"


class AlreadySent(HostError):
    """``cancelSend`` of a message that went (or is going) out: too late to hold it back."""

    status = 409
    code = "ALREADY_SENT"


class SendScheduled(HostError):
    """A send or a draft save naming a message held for sending: cancel it first (cancelSend)."""

    status = 409
    code = "SEND_SCHEDULED"
