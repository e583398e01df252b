"""Password hashing: argon2id at OWASP's parameters, in a thread (it is slow on purpose).

Hashes made before argon2 (``scrypt$N$r$p$salt$digest``, N=2^14) still verify; ``verify``
then says the hash wants upgrading, and sign-in stores a new argon2id hash. The same holds for
an argon2 hash made with weaker parameters than today's.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: argon2id, 19 MiB of memory, 2 iterations, 1 lane
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class Verdict(NamedTuple):
    ok: bool
    upgrade: bool  # ok, but stored with an older scheme or weaker parameters: hash it again


def hash_password_sync(password: str) -> str:
    return HASHER.hash(password)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return HASHER.hash("no such user: a hash to verify against, so that an unknown address costs the same")


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=32,
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def verify_password_sync(password: str, stored: str | None) -> Verdict:
    """Check ``password`` against ``stored``. With no stored hash (an unknown address) the work is
    the same as for a wrong password: a real argon2 verification against a dummy hash."""
    if stored and stored.startswith("scrypt$"):
        return Verdict(ok := _verify_scrypt(password, stored), ok)
    try:
        HASHER.verify(stored or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verdict(False, False)
    if not stored:
        return Verdict(False, False)
    return Verdict(True, HASHER.check_needs_rehash(stored))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password: str, stored: str | None) -> Verdict:
    return await asyncio.to_thread(verify_password_sync, password, stored)
