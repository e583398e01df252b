"""The SSRF guard of webhooks: a receiver must be a public address, unless the setting
``webhook_allow_private`` is true (a lab, a receiver on the same machine).

Checked twice: when a URL is given (``check_url``: a clear 400 ``INVALID_URL``), and at every
connection (``GuardedResolver`` answers aiohttp only the addresses it checked, so a name that
resolves elsewhere later, DNS rebinding, reaches nothing private; an IP literal, which aiohttp
does not resolve, is checked by ``check_literal``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from host.errors import BadRequest

MAX_URL = 2000


class InvalidUrl(BadRequest):
    """A webhook URL that is malformed, or whose host is not a public address."""

    code = "INVALID_URL"


class PrivateAddress(OSError):
    """A receiver's name resolved to an address the guard refuses."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def parse(url: object) -> tuple[str, int]:
    """The host and port of a webhook URL (http or https, a host, no credentials)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidUrl("The webhook URL must be an http:// or https:// address.", field="url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidUrl("The webhook URL is not a valid address.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUrl("The webhook URL must be an http:// or https:// address.", field="url")
    if parts.username or parts.password:
        raise InvalidUrl("The webhook URL must not carry a user name or password.", field="url")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: object, allow_private: bool) -> str:
    """The URL, checked; ``InvalidUrl`` (400) when malformed, or, unless ``allow_private``, when
    its host is or resolves to a loopback, private, link-local or otherwise non-public address."""
    host, port = parse(url)
    if allow_private:
        return str(url).strip()
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise InvalidUrl(f"The webhook's host {host!r} does not resolve.", field="url") from None
        addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(is_public(a) for a in addresses):
        raise InvalidUrl(
            f"The webhook's host {host!r} is a loopback, private or link-local address; "
            "webhooks go to public addresses (the setting webhook_allow_private allows others).",
            field="url",
        )
    return str(url).strip()


def check_literal(url: str, allow_private: bool) -> None:
    """At delivery: a URL whose host is an IP literal (aiohttp does not resolve it)."""
    host, _ = parse(url)
    literal = _literal(host)
    if literal is not None and not allow_private and not is_public(literal):
        raise PrivateAddress(f"{literal} is not a public address")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, answering only public addresses unless ``allow_private()``."""

    def __init__(self, allow_private: Callable[[], bool]):
        self._inner = DefaultResolver()
        self._allow = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not self._allow():
            refused = [r["host"] for r in found if not is_public(r["host"])]
            if refused:
                raise PrivateAddress(f"{host} resolves to {refused[0]}, which is not a public address")
        return found

    async def close(self) -> None:
        await self._inner.close()
