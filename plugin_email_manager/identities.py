"""Send as: the addresses an account may write from (its own, and its ``mailIdentities``), the
From and Reply-To of a message sent as one, and which of them an original was addressed to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.errors import BadRequest
from plugin_email_manager.errors import InvalidAddress
from plugin_email_manager.sendmail.recipients import address_key, parse_recipients

if TYPE_CHECKING:
    from asyncpg import Pool

    from host.api import Params
    from plugin_email_manager.connections import Account


@dataclass(frozen=True)
class Identity:
    """Who a message is from: ``reply_to`` None writes no Reply-To."""

    name: str
    email: str
    reply_to: str | None = None

    @property
    def from_addr(self) -> dict[str, str]:
        return {"name": self.name, "address": self.email}


def one_address(value: Any, field: str) -> str:
    """``value`` as one plain address (a typed ``Name <a@b>`` gives its address); else 400."""
    try:
        found = parse_recipients(value) if isinstance(value, (str, dict)) else []
    except InvalidAddress:
        found = []
    if len(found) != 1:
        raise BadRequest(f"'{field}' must be one email address.", code="INVALID_EMAIL", field=field)
    return found[0]["address"]


async def of_account(db: Pool, account: Account) -> list[Identity]:
    """The account's own address first, then its identities in the order they were made."""
    rows = await db.fetch(
        "SELECT name, email, reply_to FROM mail_identities WHERE account_id = $1 ORDER BY id", account.id
    )
    own = Identity(account.display_name or "", account.email)
    return [own, *(Identity(r["name"] or "", r["email"], r["reply_to"] or None) for r in rows)]


async def addresses(db: Pool, scope: str, params: Params) -> set[str]:
    """The identities' addresses of the accounts within ``scope`` (a condition on alias ``t`` of
    mail_accounts), lower-cased: a reply treats them as the account's own."""
    rows = await db.fetch(
        f"SELECT i.email FROM mail_identities i JOIN mail_accounts t ON t.id = i.account_id WHERE {scope}",
        *params.values,
    )
    return {r["email"].lower() for r in rows if r["email"]}


def choose(identities: list[Identity], wanted: Any) -> Identity:
    """The identity ``wanted`` names (an address, ``Name <address>`` or ``{"name","address"}``,
    compared case-insensitively); None or empty: the account's own. Anything else: 400 INVALID_FROM."""
    if wanted in (None, ""):
        return identities[0]
    try:
        found = parse_recipients(wanted) if isinstance(wanted, (str, dict)) else []
    except InvalidAddress:
        found = []
    if len(found) == 1:
        key = address_key(found[0]["address"])
        for identity in identities:
            if address_key(identity.email) == key:
                return identity
    raise BadRequest(
        "'from' must be the account's address or one of its identities.", code="INVALID_FROM", field="from"
    )


def addressed(original: dict[str, Any], identities: list[Identity]) -> Identity:
    """The identity an original was written to: the first of its To, then Cc (then its From, for
    our own sent mail) that is one of the account's identities; else the account's own address."""
    keys = {address_key(i.email): i for i in identities[1:]}
    people = [*(original.get("to") or []), *(original.get("cc") or []), original.get("from")]
    for person in people:
        address = person.get("address") if isinstance(person, dict) else None
        if address and address_key(address) in keys:
            return keys[address_key(address)]
    return identities[0]
