"""Recipients as people type them: split, validate, format.

The compose dialog and the API send strings ("Ann <ann@example.com>", "ann@example.com",
"\"Doe, Ann\" <ann@x>", several in one string separated by commas, semicolons or new lines);
answers carry ``{"name", "address"}`` objects. The stdlib header parser is too lenient here
(it turns "garbage" into an address with a defect and raises IndexError on "ann@"), so the
splitting is ours and small.

Accepted addresses: a dot-atom or quoted local part in ASCII, and a domain that is a host name
(IDN allowed, checked through IDNA) or an address literal. Non-ASCII local parts would need
SMTPUTF8 end to end, which we do not promise; they are refused as invalid.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from plugin_email_manager.errors import InvalidAddress

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")
_QUOTED_LOCAL = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"\Z')
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_IPV4 = re.compile(r"\[(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\]\Z")
_IPV6 = re.compile(r"\[IPv6:[0-9A-Fa-f:.]{2,45}\]\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# characters that force a display name into a quoted string (RFC 5322 specials)
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def ascii_domain(domain: str) -> str:
    """The domain as it goes on the wire (IDNA A-labels), or ValueError."""
    if _IPV4.match(domain) or _IPV6.match(domain):
        return domain
    if not domain or domain.endswith(".") or len(domain) > 253:
        raise ValueError(domain)
    if not domain.isascii():
        try:
            import idna  # IDNA 2008 with UTS 46 mapping; a dependency of aiohttp's yarl

            domain = idna.encode(domain, uts46=True).decode("ascii")
        except ImportError:  # pragma: no cover - stdlib IDNA 2003 as the fallback
            domain = domain.encode("idna").decode("ascii")
        # idna.IDNAError and the stdlib codec's errors are UnicodeErrors, a ValueError subclass
    if not all(_LABEL.match(label) for label in domain.split(".")):
        raise ValueError(domain)
    return domain


def ascii_address(address: str) -> str:
    """``local@domain`` with the domain in A-labels (what MAIL FROM / RCPT TO and headers carry)."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{ascii_domain(domain)}"


def address_key(address: str) -> str:
    """A comparison key: case-insensitive, IDN and A-label forms of a domain equal."""
    local, _, domain = address.strip().rpartition("@")
    try:
        domain = ascii_domain(domain)
    except ValueError:
        pass
    return f"{local}@{domain}".lower()


def is_valid_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    if not at or not local or len(address) > 254 or len(local) > 64:
        return False
    if not (_DOT_ATOM.match(local) or _QUOTED_LOCAL.match(local)):
        return False
    try:
        ascii_domain(domain)
    except (ValueError, UnicodeError):
        return False
    return True


def _split(text: str) -> list[str]:
    """Split on , ; and line breaks that are outside quotes and angle brackets."""
    pieces: list[str] = []
    current: list[str] = []
    quoted, angle, escaped = False, False, False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"' and not angle:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        elif ch in ",;\r\n" and not quoted and not angle:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    pieces.append("".join(current))
    return [p.strip() for p in pieces if p.strip()]


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return name.strip()


def _angle_start(piece: str) -> int:
    """Index of the first '<' outside a quoted string, or -1."""
    quoted = escaped = False
    for i, ch in enumerate(piece):
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            return i
    return -1


def _parse_one(piece: str) -> dict[str, str]:
    lt = _angle_start(piece)
    if lt >= 0:
        gt = piece.find(">", lt)
        if gt < 0 or piece[gt + 1 :].strip():
            raise InvalidAddress(f"Not a valid email address: {piece}", address=piece)
        name, address = _unquote(piece[:lt]), piece[lt + 1 : gt].strip()
    else:
        name, address = "", piece.strip()
    if address.lower().startswith("mailto:"):
        address = address[7:]
    if _CONTROL.search(name) or _CONTROL.search(address) or not is_valid_address(address):
        raise InvalidAddress(f"Not a valid email address: {piece}", address=piece)
    return {"name": name, "address": address}


def parse_recipients(values: str | Iterable[Any] | None) -> list[dict[str, str]]:
    """Every recipient in ``values`` as ``{"name","address"}``, in order, as typed.

    ``values`` is a string or a list of strings (each may hold several, comma-separated) or of
    ``{"name","address"}`` objects (what prepareReply answers, sent back unchanged). Raises
    ``InvalidAddress`` (extra key ``address``) naming the first one that is not an address.
    Duplicates are kept: removing them is the envelope's job.
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    found: list[dict[str, str]] = []
    for value in values:
        if isinstance(value, dict):
            name, address = str(value.get("name") or ""), str(value.get("address") or "").strip()
            if _CONTROL.search(name) or _CONTROL.search(address) or not is_valid_address(address):
                raise InvalidAddress(f"Not a valid email address: {address or value!r}", address=address)
            found.append({"name": name.strip(), "address": address})
        elif isinstance(value, str):
            found.extend(_parse_one(piece) for piece in _split(value))
        else:
            raise InvalidAddress(f"Not a valid email address: {value!r}", address=repr(value))
    return found


def format_address(addr: dict[str, Any]) -> str:
    """``{"name","address"}`` as a person reads and types it: ``"Doe, Ann" <ann@x>``.

    Unicode stays Unicode (this is for display and for round trips through parse_recipients,
    not a header: compose.py encodes headers).
    """
    name, address = (addr.get("name") or "").strip(), addr.get("address") or ""
    if not name:
        return address
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"
