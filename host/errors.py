"""Domain errors: each has a stable ``code`` and an HTTP ``status``.

One middleware (``host.rest``) turns them into ``{"errors": [...]}``; JSON-RPC maps them to its
own codes (``host.rpc``). Domain code raises these, never ``web.HTTPException``.
"""

from __future__ import annotations

from typing import Any


class HostError(Exception):
    """Base of every error an API caller may see."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, **self.extra}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the REST form sends with this error (e.g. ``Retry-After``)."""
        return {}


class BadRequest(HostError, ValueError):
    """Malformed input: bad JSON, unknown field or operator, wrong type, missing parameter."""

    status = 400
    code = "BAD_REQUEST"


class InvalidFilter(BadRequest):
    code = "INVALID_FILTER"


class Unauthorized(HostError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(HostError, PermissionError):
    status = 403
    code = "FORBIDDEN"


class NotFound(HostError, LookupError):
    """Unknown collection/action, or a record that does not exist or lies outside the caller's scope."""

    status = 404
    code = "NOT_FOUND"


class PayloadTooLarge(HostError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class TooManyRequests(HostError):
    """Too many attempts: the caller must wait ``retryAfter`` seconds (sent as ``Retry-After``)."""

    status = 429
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, message: str, *, retry_after: int, **extra: Any):
        super().__init__(message, retryAfter=retry_after, **extra)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra["retryAfter"])}


class Unprocessable(HostError):
    status = 422
    code = "UNPROCESSABLE"


class BadGateway(HostError, ConnectionError):
    """A server we depend on (mail, OAuth) could not be reached or answered a temporary failure."""

    status = 502
    code = "BAD_GATEWAY"


class DatabaseUnavailable(HostError):
    """PostgreSQL cannot be reached (down, restarting, the network cut): try again shortly."""

    status = 503
    code = "DATABASE_UNAVAILABLE"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class ConfigError(Exception):
    """The host cannot start: a bad manifest, collection file or hook implementation."""
