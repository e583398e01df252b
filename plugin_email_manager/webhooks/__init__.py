"""Webhooks: each mail event POSTed to the URLs its user registered (``mailWebhooks``).

- ``queue.py``: the queue in PostgreSQL (``mail_webhook_deliveries``, also the delivery log):
  one row per (webhook, event), claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so several
  processes share it and a restart loses nothing; in order per (webhook, account).
- ``deliver.py``: the deliverer of each process, woken by NOTIFY: signs, POSTs with a timeout in
  its own task, records the answer, schedules the retries.
- ``guard.py``: the SSRF guard: no loopback, private or link-local address unless the setting
  ``webhook_allow_private`` allows it; checked at create/update and again at each connection.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Email-Center-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the exact body, keyed with the secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
