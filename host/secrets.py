"""Encryption of stored secrets (passwords, OAuth tokens) with Fernet.

The key is ``EMAIL_CENTER_SECRET_KEY`` (a Fernet key: 32 random bytes, URL-safe base64); when
unset, one is generated once and kept in ``<storage>/secret.key`` with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from host.errors import ConfigError


class SecretBox:
    def __init__(self, key: str | bytes, source: str = "EMAIL_CENTER_SECRET_KEY"):
        try:
            self._fernet = Fernet(key)
            self.signer = Signer(key if isinstance(key, bytes) else key.encode())
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{source} must be 32 random bytes in URL-safe base64 (a Fernet key)") from e

    @classmethod
    def from_environment(cls, storage: Path) -> "SecretBox":
        key = os.environ.get("EMAIL_CENTER_SECRET_KEY")
        if key:
            return cls(key.strip())
        path = storage / "secret.key"
        if not path.exists():
            storage.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        return cls(path.read_bytes().strip(), source=f"the key in {path}")

    def encrypt(self, value: Any) -> str:
        """Encrypt any JSON-serialisable value."""
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def decrypt(self, token: str | None) -> Any:
        if not token:
            return None
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as e:
            raise ConfigError("a stored secret cannot be decrypted: was EMAIL_CENTER_SECRET_KEY changed?") from e


class Signer:
    """HMAC signatures for short-lived URLs (inline images), keyed from the secret key (a key of
    its own, derived, so that a signature never doubles as anything Fernet accepts)."""

    def __init__(self, key: bytes):
        self._key = hashlib.sha256(b"email-center url signing\x00" + key).digest()

    def sign(self, message: str) -> str:
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature or "")
