"""An IMAP-aware ``TcpProxy``: it passes whole commands and responses, and can rewrite them.

Servers differ in what they offer, and Dovecot offers nearly everything. Put in front of it,
``ImapProxy(port, drop={"CONDSTORE", "QRESYNC"})`` is a server without them (as Microsoft's
IMAP is), so the sync's paths for lesser servers run against real mail. Subclasses rewrite more
(``gmail_proxy.GmailProxy``).

A response is read whole, as text, literal, text, ... (the texts end with their CRLF); a
command passes line by line, its literals as they come (a client may wait for "+" first).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from plugin_email_manager.mailsync.imap.codec import parse_uid_set
from tests.servers.tcpproxy import TcpProxy

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_CAPABILITY = re.compile(rb"((?:^\* |\[)CAPABILITY )([^\]\r\n]*)", re.I)


class ImapProxy(TcpProxy):
    """``cut_all`` works; the byte budget and ``pause`` of TcpProxy's own pump do not apply."""

    def __init__(self, target_port: int, *, drop: set[str] = frozenset(), add: tuple[str, ...] = ()):
        super().__init__(target_port)
        self.drop, self.add = {c.upper() for c in drop}, add
        self.commands: Counter = Counter()  # commands seen, by name ("NOOP", "UID FETCH", ...)

    def rewrite_command(self, line: bytes) -> bytes:
        return line

    def rewrite_response(self, parts: list[bytes]) -> list[bytes]:
        if b"CAPABILITY" in parts[0].upper():
            parts[0] = _CAPABILITY.sub(self._capabilities, parts[0])
        return parts

    def _capabilities(self, m: re.Match) -> bytes:
        words = [w for w in m.group(2).split(b" ") if w and w.decode().upper() not in self.drop]
        return m.group(1) + b" ".join(words + [c.encode() for c in self.add])

    async def _forward(self, link, from_client: asyncio.StreamReader, from_server: asyncio.StreamReader) -> None:
        async def until_either_ends(pump) -> None:
            try:
                await pump
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                link.cut()

        await asyncio.gather(
            until_either_ends(self._commands(from_client, link.server)),
            until_either_ends(self._responses(from_server, link.client)),
        )

    async def _commands(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            words = line.split()
            if len(words) > 1:  # tag, command (UID's command is the next word)
                name = b" ".join(words[1:3] if words[1].upper() == b"UID" else words[1:2])
                self.commands[name.decode("ascii", "replace").upper()] += 1
            writer.write(self.rewrite_command(line))
            if m := _LITERAL.search(line):
                await writer.drain()
                writer.write(await reader.readexactly(int(m.group(1))))
            await writer.drain()

    async def _responses(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            parts: list[bytes] = []
            while True:
                line = await reader.readline()
                if not line:
                    return
                parts.append(line)
                m = _LITERAL.search(line)
                if not m:
                    break
                parts.append(await reader.readexactly(int(m.group(1))))
            writer.write(b"".join(self.rewrite_response(parts)))
            await writer.drain()


_SECTION_FETCH = re.compile(rb"^(\S+) UID FETCH (\S+) .*BODY\.PEEK\[\d", re.I)
_FETCHED_UID = re.compile(rb"^\* \d+ FETCH \(.*?\bUID (\d+)", re.I)


class BrokenTexts(ImapProxy):
    """Dovecot, except that the text of the messages whose UIDs are in ``broken`` cannot be read:
    a UID FETCH of body sections that names one answers the others, then ``NO [<code>]``, as
    Dovecot does for a mail file it cannot read (SERVERBUG) or a busy server for now
    (UNAVAILABLE). ``section_fetches``: every such FETCH seen."""

    def __init__(self, target_port: int, broken: set[int], code: bytes = b"SERVERBUG"):
        super().__init__(target_port)
        self.broken, self.code = broken, code
        self.section_fetches: list[bytes] = []
        self._refusing: set[bytes] = set()  # tags of FETCHes to answer NO

    def rewrite_command(self, line: bytes) -> bytes:
        if m := _SECTION_FETCH.match(line):
            self.section_fetches.append(line)
            if self.broken.intersection(parse_uid_set(m[2])):
                self._refusing.add(m[1])
        return line

    def rewrite_response(self, parts: list[bytes]) -> list[bytes]:
        if self._refusing:
            if (m := _FETCHED_UID.match(parts[0])) and int(m[1]) in self.broken:
                return []
            tag, _, rest = parts[0].partition(b" ")
            if tag in self._refusing and rest.upper().startswith(b"OK"):
                self._refusing.discard(tag)
                return [
                    tag
                    + b" NO ["
                    + self.code
                    + b"] Internal error occurred. Refer to server log for more information.\r\n"
                ]
        return super().rewrite_response(parts)
