"""Mail with someone, or with anyone at a domain: ``participants`` of ``mailMessages:list`` and
``listThreads``, and the addresses and domains of a record for ``listForRecord``.

``{"addresses": [...], "domains": [...]}`` matches a message with one of those addresses in From,
To or Cc (exact, case-insensitive: ``ann+news@`` is not ``ann@``; Bcc and Reply-To never match), or
an address whose domain is exactly one of those (``sub.acme.test`` is not ``acme.test``). The rows
come from ``mail_message_participants``, which triggers keep (``migrations/010_participants.sql``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.errors import BadRequest

if TYPE_CHECKING:
    from asyncpg import Connection, Pool

    from host.api import Params

MAX_VALUES = 1000  # addresses plus domains of one call


@dataclass(frozen=True)
class Participants:
    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.addresses or self.domains)


def _bad(message: str, name: str) -> BadRequest:
    return BadRequest(message, code="INVALID_VALUE", field=name)


def _strings(value: Any, key: str, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"'{name}.{key}' must be a list of strings.", name)
    return [v.strip().lower() for v in value if v.strip()]


def read_participants(raw: Any, name: str = "participants") -> Participants | None:
    """The ``participants`` parameter (an object, or its JSON text in a query string); None when
    absent; a 400 when malformed (not an object, unknown keys, an address without @, a domain
    with one)."""
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _bad(f"'{name}' is not JSON.", name) from None
    if not isinstance(raw, dict):
        raise _bad(f'\'{name}\' must be an object {{"addresses": [...], "domains": [...]}}.', name)
    unknown = set(raw) - {"addresses", "domains"}
    if unknown:
        raise _bad(f"'{name}' has unknown key(s): {', '.join(sorted(map(str, unknown)))}.", name)
    addresses = _strings(raw.get("addresses"), "addresses", name)
    domains = [d.lstrip("@") for d in _strings(raw.get("domains"), "domains", name)]
    for a in addresses:
        local, at, domain = a.rpartition("@")
        if not at or not local or not domain:
            raise _bad(f"{a!r} is not an email address.", name)
    for d in domains:
        if not d or "@" in d:
            raise _bad(f"{d!r} is not a domain.", name)
    if len(addresses) + len(domains) > MAX_VALUES:
        raise _bad(f"'{name}' names more than {MAX_VALUES} addresses and domains.", name)
    return Participants(tuple(dict.fromkeys(addresses)), tuple(dict.fromkeys(domains)))


def participants_sql(p: Participants, params: Params, accounts: list[int] | None = None) -> str:
    """The condition on alias ``t`` (``mail_messages``) of messages with those participants; with
    ``accounts`` (the caller's account ids), the lookup reads only their index entries."""
    if not p:
        return "FALSE"  # an empty list names nobody
    scope = f" AND p.account_id = ANY ({params.add(accounts, 'bigint[]')})" if accounts is not None else ""
    arms = []
    if p.addresses:
        arms.append(
            "SELECT p.message_id FROM mail_message_participants p "
            f"WHERE p.address = ANY ({params.add(list(p.addresses), 'text[]')}){scope}"
        )
    if p.domains:
        arms.append(
            "SELECT p.message_id FROM mail_message_participants p "
            f"WHERE p.domain = ANY ({params.add(list(p.domains), 'text[]')}){scope}"
        )
    return f"t.id IN ({' UNION '.join(arms)})"


def thread_matches(p: Participants, params: Params, accounts: list[int] | None) -> str:
    """For ``listing.matches_page``: ``thread_id, id, d`` of the messages with those participants,
    read from the participants' index alone (it carries each message's conversation and date);
    ``accounts`` None reads every account's (a manager's ``scope: "all"``)."""
    if not p:
        return "SELECT NULL::bigint AS thread_id, NULL::bigint AS id, NULL::timestamptz AS d WHERE FALSE"
    scope = f" AND p.account_id = ANY ({params.add(accounts, 'bigint[]')})" if accounts is not None else ""
    arms = []
    for column, values in (("address", p.addresses), ("domain", p.domains)):
        if values:
            arms.append(
                "SELECT p.thread_id, p.message_id AS id, COALESCE(p.date, '-infinity'::timestamptz) AS d "
                f"FROM mail_message_participants p WHERE p.{column} = ANY ({params.add(list(values), 'text[]')})"
                f"{scope} AND p.thread_id IS NOT NULL"
            )
    return " UNION ALL ".join(arms)


def of_values(values: list[tuple[str, Any]]) -> Participants:
    """A record's participants from its (interface, value) pairs: an email field's address (or list
    of them; "Ann <ann@acme.test>" read as its address), a domain field's domain."""
    addresses: list[str] = []
    domains: list[str] = []
    for interface, value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str) or not item.strip():
                continue
            text = item.strip().lower()
            if interface == "email":
                if "<" in text and text.endswith(">"):
                    text = text[text.rindex("<") + 1 : -1].strip()
                if "@" in text.strip("@"):
                    addresses.append(text)
            elif interface == "domain":
                text = text.lstrip("@")
                if text and "@" not in text:
                    domains.append(text)
    return Participants(tuple(dict.fromkeys(addresses)), tuple(dict.fromkeys(domains)))


async def account_emails(db: Pool | Connection, ids: list[int]) -> dict[int, str]:
    """Account id -> its address (what a manager's read shows as ``accountEmail``)."""
    rows = await db.fetch("SELECT id, email FROM mail_accounts WHERE id = ANY ($1::bigint[])", ids)
    return {r["id"]: r["email"] for r in rows}
