"""The IMAP byte stream: reading whole responses (lines and literals) and parsing their values.

The bottom layer: it knows bytes and responses, nothing of commands. Our own reader on asyncio
streams rather than aioimaplib's protocol (the package's docstring says why).
Reading is linear: a response is a few ``readuntil`` calls plus one ``readexactly`` per literal,
and its values are tokenized once, so 10,000 messages parse in a fraction of a second. Every
read has an inactivity timeout; any failure of the stream closes the connection and raises
``ImapUnavailable``: a half-read response cannot be resumed.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl

from plugin_email_manager.errors import ImapUnavailable

# The reader's buffer limit bounds one response line (a plain SEARCH answer for a huge mailbox is
# the longest) and the read-ahead kept in memory (twice this) while the consumer is busy.
LINE_LIMIT = 4 * 1024 * 1024
_LITERAL_STEP = 1024 * 1024  # literals are read in steps, each one restarting the inactivity timer

# An atom may hold bracketed parts with spaces: BODY[HEADER.FIELDS (FROM)], [Gmail]/Sent Mail
# as an atom, a response code [UIDVALIDITY 3]. Anything else unquoted is taken as an atom too.
# findall() answers one tuple a token, in this group order: (whole, open, close, quoted, atom,
# other); one call in C per segment instead of a match() call a token (half the time a FETCH).
_TOKENS = re.compile(
    rb"""(?P<whole>[ ]*(?:
    (?P<open>\()
  | (?P<close>\))
  | "(?P<quoted>(?:[^"\\]|\\.)*)"
  | (?P<atom>(?:[^\s()"{\[]+|\[[^\]]*\])+)
  | (?P<other>[^\s()]+)
  ))""",
    re.X,
)
_UNESCAPE = re.compile(rb"\\(.)")
_STATUS = re.compile(rb"(OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*)\])? ?(.*)", re.I | re.S)
_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n\Z")


class ProtocolError(ImapUnavailable):
    """The server sent something that is not IMAP."""


def parse_values(segments: list[bytes], literals: list[bytes]) -> list:
    """IMAP values as Python ones: atoms and quoted strings as bytes, NIL as None, lists as lists.

    ``segments[i]`` is followed on the wire by ``literals[i]`` (when there is one).
    """
    stack: list[list] = [[]]
    for i, text in enumerate(segments):
        text = text.rstrip(b" ")
        pieces = text.split(b'"')
        if (
            len(pieces) % 2
            and _NOT_PLAIN.search(text) is None
            and _OPEN_BRACKET.search(text) is None
            and not any(b"\\" in quoted for quoted in pieces[1::2])
        ):
            _plain_tokens(pieces, stack)
        else:
            _tokens(text, stack)
        if i < len(literals):
            stack[-1].append(literals[i])
    while len(stack) > 1:  # tolerate a server that forgets closing parentheses
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


# The common segment, read without the tokenizer (its findall was most of a FETCH's parsing):
# quoted strings without escapes, so that splitting at '"' leaves them at the odd places;
# between them only spaces, parentheses and atoms, so that bytes.split() finds the atoms the
# tokenizer would. Anything else goes to the tokenizer: a '{' ("other" tokens), white space
# but the space (the tokenizer refuses it), a '[' not closed before the next '"' or the end.
_NOT_PLAIN = re.compile(rb"[{\t\n\r\x0b\x0c]")
_OPEN_BRACKET = re.compile(rb'\[[^\]"]*(?:"|\Z)')


def _plain_tokens(pieces: list[bytes], stack: list[list]) -> None:
    """The values of a segment split at its quotes, when ``parse_values`` found it plain."""
    top = stack[-1]
    quoted = False
    for piece in pieces:
        if quoted:
            top.append(piece)
            quoted = False
            continue
        quoted = True
        if b"[" in piece:  # BODY[HEADER.FIELDS (FROM)]: its brackets closed within the piece
            _tokens(piece, stack, whole=False)
            top = stack[-1]
            continue
        for token in piece.replace(b"(", b" ( ").replace(b")", b" ) ").split():
            if token == b"(":
                top = []
                stack.append(top)
            elif token == b")":
                if len(stack) == 1:
                    raise ProtocolError("unbalanced ')' in an IMAP response")
                done = stack.pop()
                top = stack[-1]
                top.append(done)
            else:
                top.append(None if token == b"NIL" else token)


def _tokens(text: bytes, stack: list[list], whole: bool = True) -> None:
    """The values of ``text`` by the tokenizer; ``whole``: all of it must be tokens."""
    read = 0
    for spaced, opening, closing, quoted, atom, other in _TOKENS.findall(text):
        read += len(spaced)
        if atom or other:
            atom = atom or other
            stack[-1].append(None if atom == b"NIL" else atom)
        elif opening:
            stack.append([])
        elif closing:
            if len(stack) == 1:
                raise ProtocolError("unbalanced ')' in an IMAP response")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(_UNESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted)
    if whole and read != len(text):  # findall skipped what no token matched
        raise ProtocolError(f"unreadable IMAP response: {text[:80]!r}")


class Response:
    """One server response.

    ``kind`` is "tagged", "untagged" or "continuation". Status responses (OK/NO/BAD/BYE/PREAUTH)
    have ``name`` = the status, ``code`` = the bracketed response code ("UIDVALIDITY 3") and
    ``text``. Data responses have ``name`` ("FETCH", "EXISTS", "LIST", ...), ``number`` for
    ``* 5 EXISTS``, and their remaining ``values`` (parsed on first use).
    """

    __slots__ = ("kind", "tag", "name", "number", "code", "text", "_segments", "_literals", "_values")

    def __init__(
        self,
        kind: str,
        tag: bytes | None,
        name: str,
        segments: list[bytes],
        literals: list[bytes],
        number: int | None = None,
        code: str | None = None,
        text: str = "",
    ):
        self.kind, self.tag, self.name, self.number = kind, tag, name, number
        self.code, self.text = code, text
        self._segments, self._literals = segments, literals
        self._values: list | None = None

    @property
    def values(self) -> list:
        if self._values is None:
            self._values = parse_values(self._segments, self._literals)
        return self._values

    @property
    def is_status(self) -> bool:
        return self.name in ("OK", "NO", "BAD", "BYE", "PREAUTH")

    def line(self) -> str:
        """The response as one readable line (literals shown as their size)."""
        parts = []
        for i, seg in enumerate(self._segments):
            parts.append(seg.decode("utf-8", "replace"))
            if i < len(self._literals):
                parts.append(f"{{{len(self._literals[i])}}}")
        head = f"{self.number} {self.name}" if self.number is not None else self.name
        if self.is_status:
            return " ".join(p for p in (head, f"[{self.code}]" if self.code else "", self.text) if p)
        rest = "".join(parts).strip()
        return f"{head} {rest}" if rest else head

    def __repr__(self) -> str:
        return f"<{self.kind} {self.tag!r} {self.line()[:120]}>"


def _response(segments: list[bytes], literals: list[bytes]) -> Response:
    first = segments[0]
    if first.startswith(b"+"):
        return Response("continuation", None, "+", [], [], text=first[1:].lstrip(b" ").decode("utf-8", "replace"))
    head, _, rest = first.partition(b" ")
    if head == b"*":
        kind, tag = "untagged", None
    else:
        kind, tag = "tagged", head
    number = None
    word, _, after = rest.partition(b" ")
    if word.isdigit():
        number = int(word)
        word, _, after = after.partition(b" ")
    name = word.upper().decode("ascii", "replace")
    if name in ("OK", "NO", "BAD", "BYE", "PREAUTH") and number is None:
        m = _STATUS.match(rest)
        assert m is not None  # rest starts with the status word that _STATUS begins with
        code = m.group(2).decode("utf-8", "replace") if m.group(2) is not None else None
        text = b"".join([m.group(3), *(b"{%d}" % len(x) for x in literals)]).decode("utf-8", "replace")
        return Response(kind, tag, name, [], [], code=code, text=text)
    return Response(kind, tag, name, [after, *segments[1:]], literals, number=number)


class Wire:
    """A connection's two streams, with timeouts and errors mapped to ``ImapUnavailable``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str, timeout: float):
        self.reader, self.writer, self.where, self.timeout = reader, writer, where, timeout
        self.closed = False
        self.bye: str | None = None  # the server's BYE text, when it said goodbye
        self._held: bytes | None = None  # a line read by wait_readable(), not consumed yet

    @classmethod
    async def open(cls, host: str, port: int, ssl_context: ssl.SSLContext | None, timeout: float) -> "Wire":
        where = f"{host}:{port}"
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ssl_context, server_hostname=host if ssl_context else None, limit=LINE_LIMIT
                )
        except (OSError, TimeoutError) as e:
            raise ImapUnavailable(
                f"The IMAP server {where} could not be reached ({_describe(e)}).", server="imap"
            ) from None
        _keepalive(writer)
        return cls(reader, writer, where, timeout)

    async def start_tls(self, ssl_context: ssl.SSLContext, host: str) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.writer.start_tls(ssl_context, server_hostname=host)
        except (OSError, TimeoutError) as e:
            self.abort()
            raise ImapUnavailable(
                f"TLS with the IMAP server {self.where} failed ({_describe(e)}).", server="imap"
            ) from None

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()

    def _lost(self, e: BaseException | None) -> ImapUnavailable:
        self.abort()
        if self.bye:
            why = f"it closed the connection: {self.bye}"
        elif isinstance(e, TimeoutError):
            why = f"no answer within {self.timeout:g} s"
        elif isinstance(e, asyncio.IncompleteReadError) or e is None:
            why = "the connection was closed"
        else:
            why = _describe(e)
        return ImapUnavailable(f"The IMAP server {self.where} is unavailable: {why}.", server="imap")

    async def send(self, data: bytes) -> None:
        if self.closed:
            raise self._lost(None)
        try:
            self.writer.write(data)
            async with asyncio.timeout(self.timeout):
                await self.writer.drain()
        except (OSError, TimeoutError, RuntimeError) as e:
            raise self._lost(e) from None

    async def wait_readable(self, seconds: float) -> bool:
        """Waits up to ``seconds`` for the next line without failing on silence (IDLE)."""
        if self._held is not None:
            return True
        if self.closed:
            raise self._lost(None)
        try:
            async with asyncio.timeout(seconds):
                self._held = await self.reader.readuntil(b"\r\n")
            return True
        except TimeoutError:
            return False  # readuntil leaves the buffer intact when cancelled
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            raise self._lost(e) from None

    async def read(self) -> Response:
        if self.closed:
            raise self._lost(None)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                segments, literals = [], []
                while True:
                    if self._held is not None:
                        line, self._held = self._held, None
                    else:
                        line = await self.reader.readuntil(b"\r\n")
                    m = _LITERAL_AT_END.search(line) if line.endswith(b"}\r\n") else None
                    if m is None:
                        segments.append(line[:-2])
                        break
                    segments.append(line[: m.start()])
                    size = int(m.group(1))
                    if size <= _LITERAL_STEP:
                        literals.append(await self.reader.readexactly(size))
                    else:
                        chunks = bytearray()
                        while len(chunks) < size:
                            chunks += await self.reader.readexactly(min(_LITERAL_STEP, size - len(chunks)))
                            deadline.reschedule(loop.time() + self.timeout)
                        literals.append(bytes(chunks))
                    deadline.reschedule(loop.time() + self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            raise self._lost(e) from None
        response = _response(segments, literals)
        if response.name == "BYE" and response.kind == "untagged":
            self.bye = response.text
        return response


def _keepalive(writer: asyncio.StreamWriter) -> None:
    """TCP keepalive: an IDLE may sit silent for 25 minutes; a peer that vanished meanwhile (NAT
    timeout, host gone) is then noticed within about two minutes instead of at the next command."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 20), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, ssl.SSLError):
        return f"TLS: {e.reason or e}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
