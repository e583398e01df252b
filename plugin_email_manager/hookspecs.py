"""The hooks the email manager declares for other plugins (``register_hookspecs``).

A plugin implements them with ``host.hookspecs.hookimpl`` like any host hook; it loads only
beside this plugin. They are declared here, not in ``host/hookspecs.py``, because the host knows
nothing of mail: a mail event is this plugin's to define, to call and to document.
"""

from __future__ import annotations

from typing import Any

from host.hookspecs import hookspec


@hookspec
async def mail_event(event: str, payload: dict[str, Any]) -> None:
    """Called once per event, in the process that made the change, after it is committed: new
    mail a sync or IDLE stored (never during an account's first sync or a folder's re-sync), a
    message read, flagged, labelled or moved (through the API or on the server), deleted, sent
    or refused, and an account's sync turning to error. Exceptions are logged, never raised to
    whoever made the change.

    :param event: one of ``plugin_email_manager.events.EVENTS``: ``messageNew``,
        ``messageUpdated``, ``messageDeleted``, ``messageSent``, ``messageFailed``,
        ``accountError``.
    :param payload: what a webhook receives as its JSON body: ``id`` (the event's stable id),
        ``event``, ``createdAt``, ``accountId``, ``message`` (as ``mailMessages:list`` answers
        it, no body) for message events, ``changes`` (``read``, ``flagged``, ``labels``,
        ``moved``) for ``messageUpdated``, ``error`` for ``messageFailed`` and ``accountError``,
        ``deliveryFailure`` for a bounce. A copy: changing it changes nothing elsewhere.
    :return: nothing (an awaitable is awaited).
    """
