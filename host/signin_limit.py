"""The sign-in limit: after 10 failed sign-ins for one address within 15 minutes, or 50 from one
client address, ``auth:signIn`` answers 429 ``TOO_MANY_ATTEMPTS`` until the window has passed,
even with the right password.

Failures are rows of ``auth_attempts`` (collection ``authAttempts``), so the limit holds across
every process on the database. Failures for addresses that have no account count the same, so
a lock-out tells nothing about which addresses exist. A successful sign-in forgets its address's
failures (not its client's: one client guessing many addresses stays limited).
"""

from __future__ import annotations

import math

from host.errors import TooManyRequests

WINDOW_SECONDS = 15 * 60
PER_ADDRESS = 10
PER_CLIENT = 50

# the n-th newest failure inside the window, for an address and for a client: while it exists
# the limit is reached, and it leaves the window (unlocking) at its time + WINDOW
_NTH_NEWEST = """
SELECT extract(epoch FROM (
         greatest((SELECT failed_at FROM auth_attempts
                   WHERE email = $1 AND failed_at > now() - make_interval(secs => $5)
                   ORDER BY failed_at DESC OFFSET $3 - 1 LIMIT 1),
                  (SELECT failed_at FROM auth_attempts
                   WHERE client = $2 AND failed_at > now() - make_interval(secs => $5)
                   ORDER BY failed_at DESC OFFSET $4 - 1 LIMIT 1))
         + make_interval(secs => $5) - now()))
"""


async def check(db, email: str, client: str) -> None:
    """Raise ``TooManyRequests`` (with the seconds to wait) while ``email`` or ``client`` is locked."""
    wait = await db.fetchval(_NTH_NEWEST, email, client, PER_ADDRESS, PER_CLIENT, float(WINDOW_SECONDS))
    if wait is not None and wait > 0:
        raise TooManyRequests(
            "Too many failed sign-ins: wait before trying again.", retry_after=max(1, math.ceil(wait))
        )


async def failed(db, email: str, client: str) -> None:
    """Count a failed sign-in; failures older than the window are dropped on the way."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM auth_attempts WHERE failed_at < now() - make_interval(secs => $1)", float(WINDOW_SECONDS)
        )
        await conn.execute("INSERT INTO auth_attempts (email, client) VALUES ($1, $2)", email, client)


async def succeeded(db, email: str) -> None:
    await db.execute("DELETE FROM auth_attempts WHERE email = $1", email)
