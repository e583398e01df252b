"""Mail built to break parsers, delivered to the real Dovecot between ordinary messages and synced.

For each attack a person checks that the message is listed (subject, sender) and found by a word
of its text, that the ordinary mail around it is decoded and found too (the parse workers
survived it), and that it cost bounded time and memory: the sync and decoding finish within a
hang detector's bound (not a speed claim), a worker's peak memory stays under ``WORKER_MEMORY``,
and what is decoded stays within the caps of ``mailparse.body`` (text, attachments, depth,
parts) and ``conversations.rules`` (References).

The generators below make the attacks; each test reads as the sentence of its name.
"""

from __future__ import annotations

import base64
import json
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugin_email_manager import process_state
from plugin_email_manager.conversations.rules import MAX_REFERENCES
from plugin_email_manager.mailparse import parse_headers, parse_message
from plugin_email_manager.mailparse.body import (
    MAX_ATTACHMENTS,
    MAX_BODY_CHARS,
    MAX_PARTS,
)
from plugin_email_manager.mailparse.pool import ParsePool
from plugin_email_manager.mailsync import parsepass
from plugin_email_manager.mailsync.folder_sync import message_row
from plugin_email_manager.mailsync.imap import FetchedMessage
from plugin_email_manager.mailsync.parsepass import ParsePass
from tests.plugin_email_manager.test_conversations import T0, alice, mail, mail_template  # noqa: F401

WORKER_MEMORY = 1 << 30  # peak resident memory of a parse worker, bytes
MALLORY = {"name": "Mallory", "address": "mallory@evil.test"}


# ---------------------------------------------------------------- the attacks


def _head(subject: str, *, msgid: str, extra: str = "", frm: str = "Mallory <mallory@evil.test>") -> bytes:
    return (
        f"From: {frm}\r\nTo: victim@example.test\r\nSubject: {subject}\r\n"
        f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{msgid}@evil.test>\r\n"
        f"MIME-Version: 1.0\r\n{extra}"
    ).encode()


def ordinary(word: str, hour: int) -> bytes:
    """An ordinary message dated ``hour`` o'clock on the attack's day, with ``word`` in its text."""
    return (
        f"From: Olga <olga@example.test>\r\nTo: victim@example.test\r\nSubject: Ordinary {word}\r\n"
        f"Date: Mon, 01 Jan 2024 {hour:02d}:00:00 +0000\r\nMessage-ID: <{word}@example.test>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nNothing to see but {word}.\r\n"
    ).encode()


def fifty_megabytes(word: str) -> bytes:
    """A 50 MB plain-text message, ``word`` in its first line."""
    line = b"All work and no play makes Jack a dull boy, said the fifty megabyte message.\r\n"
    return (
        _head("Fifty megabytes", msgid="fifty")
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + f"The planted word is {word}.\r\n".encode()
        + line * (50_000_000 // len(line))
    )


def parts_in_one_message(word: str, count: int) -> bytes:
    """multipart/mixed of ``count`` parts: a text with ``word``, then small files."""
    out = [
        _head(f"{count} parts", msgid=f"parts{count}")
        + b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        + f"--b0\r\nContent-Type: text/plain\r\n\r\nThe planted word is {word}.\r\n".encode()
    ]
    out += [
        f'--b0\r\nContent-Type: application/octet-stream; name="part-{i}.bin"\r\n\r\nx{i}\r\n'.encode()
        for i in range(count - 1)
    ]
    return b"".join(out) + b"--b0--\r\n"


def multiparts_nested(word: str, depth: int) -> bytes:
    """Multipart inside multipart ``depth`` levels down, ``word`` in the innermost text."""
    opening = b"".join(
        f'Content-Type: multipart/mixed; boundary="level{d}"\r\n\r\n--level{d}\r\n'.encode() for d in range(depth)
    )
    closing = b"".join(f"\r\n--level{d}--\r\n".encode() for d in reversed(range(depth)))
    return (
        _head(f"Multiparts {depth} deep", msgid=f"multi{depth}")
        + opening
        + f"Content-Type: text/plain\r\n\r\nThe planted word is {word}.\r\n".encode()
        + closing
    )


def messages_nested(word: str, depth: int) -> bytes:
    """A text with ``word``, then message/rfc822 inside message/rfc822 ``depth`` levels down."""
    inner = b"Subject: innermost\r\nContent-Type: text/plain\r\n\r\nThe bottom of the well.\r\n"
    for d in range(depth):
        inner = f"Subject: level {d}\r\nContent-Type: message/rfc822\r\n\r\n".encode() + inner
    return (
        _head(f"Messages {depth} deep", msgid=f"rfc{depth}")
        + b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        + f"--m\r\nContent-Type: text/plain\r\n\r\nThe planted word is {word}.\r\n".encode()
        + b"--m\r\nContent-Type: message/rfc822\r\n\r\n"
        + inner
        + b"\r\n--m--\r\n"
    )


def a_megabyte_header_line(word: str, header: str) -> bytes:
    """``header`` as one 1 MB line, in the shape that was slowest to read for it."""
    shape = {
        "To": "C" * (1 << 20),  # no "@": every offset was tried (quadratic)
        "References": "D" * (1 << 20),  # the same, as bare msg-ids
        "X-Junk": "J" * (1 << 20),
        "Content-Type": "text/plain; " + "a;" * (1 << 19),
    }[header]  # stdlib get_param: quadratic
    extra = "" if header == "To" else "To: victim@example.test\r\n"
    raw = _head(f"Long {header} line", msgid=f"long-{header}", extra=f"{header}: {shape}\r\n").replace(
        b"To: victim@example.test\r\n", extra.encode(), 1
    )
    return raw + f"\r\nThe planted word is {word}.\r\n".encode()


def ten_thousand_references(word: str) -> bytes:
    refs = " ".join(f"<ref{i}@example.test>" for i in range(10_000))
    return (
        _head("Ten thousand references", msgid="refs", extra=f"References: {refs}\r\n")
        + f"\r\nThe planted word is {word}.\r\n".encode()
    )


def referencing(word: str, msgid: str, refs: str, subject: str) -> bytes:
    return (
        _head(subject, msgid=msgid, extra=f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n")
        + f"\r\nThe planted word is {word}.\r\n".encode()
    )


def nul_bytes(word: str) -> bytes:
    """NUL in the subject, the sender's name, the Message-ID, the body and a file name."""
    w = word.encode()
    return (
        b"From: Mal\x00lory <mallory@evil.test>\r\nTo: victim@example.test\r\nSubject: Nul\x00 bytes\r\n"
        b"Message-ID: <nul\x00@evil.test>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="n"\r\n\r\n--n\r\nContent-Type: text/plain\r\n\r\n'
        b"Body\x00with " + w + b'\x00 nul\r\n--n\r\nContent-Type: application/pdf; name="evil\x00.pdf"\r\n'
        b'Content-Disposition: attachment; filename="evil\x00.pdf"\r\n\r\n%PDF\x00\x00\r\n--n--\r\n'
    )


def invalid_utf8(word: str) -> bytes:
    """Bytes that are no UTF-8 in the subject (raw and encoded-word), the sender's name, a body
    declared UTF-8, and file names (raw and RFC 2231)."""
    w = word.encode()
    encoded = base64.b64encode(b"\xff\xc3(").decode().encode()
    return (
        b"From: \xff\xfe Mal \xc3 <mallory@evil.test>\r\nTo: victim@example.test\r\n"
        b"Subject: Invalid =?utf-8?b?" + encoded + b"?= \xed\xa0\x80 utf-8\r\n"
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <bad\xff@evil.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="u"\r\n\r\n--u\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Declared \xff\xfe UTF-8 \xc0\xaf \xed\xa0\x80 " + w + b" \xf8\x88\x80\x80\x80 end\r\n"
        b'--u\r\nContent-Type: application/octet-stream; name="\xff\xfename.bin"\r\n'
        b"Content-Disposition: attachment; filename*=utf-8''%FF%FE%C3.bin\r\n\r\ndata\r\n--u--\r\n"
    )


# ---------------------------------------------------------------- what a person checks


def decoded_within_bounds(raw: bytes, seconds: float, memory: int):
    """Both stages of decoding, here in this process: each within ``seconds``, and ``memory``
    bytes allocated at the peak; answers (headers, parsed)."""
    tracemalloc.start()
    try:
        start = time.perf_counter()
        headers = parse_headers(raw)
        parsed = parse_message(raw)
        took = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"decoded {len(raw) / 1e6:.1f} MB in {took:.2f} s, peak {peak / 1e6:.0f} MB")
    assert took < seconds and peak < memory, (took, peak)
    assert len(parsed.text) <= MAX_BODY_CHARS and len(parsed.html or "") <= MAX_BODY_CHARS
    assert len(parsed.attachments) <= MAX_ATTACHMENTS + 1  # + remaining-parts.txt
    return headers, parsed


def _worker_peaks(mailbox) -> list[int]:
    """Peak resident memory (VmHWM) of each parse worker process, bytes."""
    pool = process_state.of(mailbox.server.host).parse_pass.pool
    assert pool.uses_processes, "the parse pool fell back to a thread"
    peaks = []
    for pid in list(getattr(pool._processes, "_processes", {}) or {}):
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024)
    return peaks


async def survives(
    mailbox, attack: bytes, subject: str, *, within: float, words: tuple[str, ...] = (), others: tuple[bytes, ...] = ()
) -> dict:
    """The attack delivered between ordinary messages (three older, three newer, and ``others``),
    the account linked and synced; checks the sync and decoding end ``within`` seconds, that
    the ordinary messages are listed, decoded and found, and the attack (listed with a subject
    starting with ``subject``) found by each of ``words``. Answers the attack's listed row."""
    before = [ordinary(f"earlier{i}x{mailbox.address[1:7]}", 7 + i) for i in range(3)]
    after = [ordinary(f"later{i}x{mailbox.address[1:7]}", 11 + i) for i in range(3)]
    mailbox.dovecot.write_maildir(mailbox.address, [*others, *before, attack, *after])
    await mailbox.link()
    start = time.monotonic()
    status, body = await mailbox.api("mailAccounts:sync", {"filterByTk": mailbox.account_id, "wait": True})
    assert status == 200, body
    stored = time.monotonic() - start
    # listed as soon as stored, before (and whatever) decoding
    rows = await mailbox.messages()
    assert len(rows) == 7 + len(others), [r["subject"] for r in rows]
    await mailbox.parsed(within=within)
    took = time.monotonic() - start
    peaks = _worker_peaks(mailbox)
    print(
        f"{len(attack) / 1e6:.1f} MB: stored in {stored:.1f} s, decoded in {took:.1f} s; "
        f"worker peaks {[round(p / 1e6) for p in peaks]} MB"
    )
    assert took < within
    assert all(p < WORKER_MEMORY for p in peaks), peaks
    for raw in (*before, *after):
        word = raw.split(b"Subject: Ordinary ")[1].split(b"\r\n")[0].decode()
        found = await mailbox.messages(search=word)
        assert [r["subject"] for r in found] == [f"Ordinary {word}"], word
    (row,) = [r for r in rows if r["subject"].startswith(subject)]
    for word in words:
        assert [r["id"] for r in await mailbox.messages(search=word)] == [row["id"]], word
    # the workers still take work: one more message, decoded and found
    mailbox.dovecot.write_maildir(mailbox.address, [ordinary(f"afterwards{mailbox.address[1:7]}", 20)])
    await mailbox.sync()
    assert len(await mailbox.messages(search=f"afterwards{mailbox.address[1:7]}")) == 1
    return row


# ---------------------------------------------------------------- the tests


async def test_a_50_megabyte_message_is_stored_searchable_and_its_text_capped(mailbox):
    raw = fifty_megabytes("gargantuan")
    decoded_within_bounds(raw, seconds=30, memory=400 << 20)
    row = await survives(mailbox, raw, "Fifty", within=60, words=("gargantuan",))
    assert row["subject"] == "Fifty megabytes" and row["from"] == MALLORY
    got = await mailbox.one("Fifty megabytes")
    assert got["text"].startswith("The planted word is gargantuan.") and len(got["text"]) == MAX_BODY_CHARS


async def test_a_message_of_10000_parts_is_stored_and_searchable(mailbox):
    raw = parts_in_one_message("multitude", 10_000)
    _, parsed = decoded_within_bounds(raw, seconds=20, memory=200 << 20)
    assert len(parsed.attachments) == MAX_ATTACHMENTS  # the rest named in errors, kept in the raw message
    row = await survives(mailbox, raw, "10000 parts", within=20, words=("multitude",))
    assert row["subject"] == "10000 parts" and row["from"] == MALLORY and row["hasAttachments"]
    got = await mailbox.one("10000 parts")
    assert len(got["attachments"]) == MAX_ATTACHMENTS
    assert got["attachments"][0]["filename"] == "part-0.bin"


def test_more_parts_than_the_cap_keep_the_rest_as_one_attachment():
    _, parsed = decoded_within_bounds(parts_in_one_message("horde", 30_000), seconds=20, memory=300 << 20)
    assert "horde" in parsed.text
    rest = parsed.attachments[-1]
    assert rest["filename"] == "remaining-parts.txt" and b"part-29998.bin" in rest["content"]
    assert any(f"more than {MAX_PARTS} parts" in e for e in parsed.errors)


async def test_multiparts_nested_100_deep_keep_the_innermost_text_searchable(mailbox):
    raw = multiparts_nested("abyssal", 100)
    _, parsed = decoded_within_bounds(raw, seconds=5, memory=50 << 20)
    assert "abyssal" in parsed.text
    row = await survives(mailbox, raw, "Multiparts", within=20, words=("abyssal",))
    assert row["subject"] == "Multiparts 100 deep" and row["from"] == MALLORY


def test_multiparts_nested_5000_deep_are_read_in_bounded_time():
    _, parsed = decoded_within_bounds(multiparts_nested("bottomless", 5000), seconds=5, memory=100 << 20)
    assert "bottomless" in parsed.text  # below MAX_DEPTH, the rest is read as text


async def test_messages_nested_100_deep_are_one_attachment(mailbox):
    raw = messages_nested("matryoshka", 100)
    _, parsed = decoded_within_bounds(raw, seconds=5, memory=50 << 20)
    (eml,) = parsed.attachments
    assert eml["filename"] == "level 99.eml" and b"The bottom of the well." in eml["content"]
    row = await survives(mailbox, raw, "Messages", within=20, words=("matryoshka",))
    assert row["subject"] == "Messages 100 deep" and row["from"] == MALLORY
    got = await mailbox.one("Messages 100 deep")
    assert [a["filename"] for a in got["attachments"]] == ["level 99.eml"]


def test_messages_nested_5000_deep_are_read_in_bounded_time():
    _, parsed = decoded_within_bounds(messages_nested("russian", 5000), seconds=5, memory=100 << 20)
    assert "russian" in parsed.text and len(parsed.attachments) == 1
    assert b"The bottom of the well." in parsed.attachments[0]["content"]  # kept below MAX_DEPTH


@pytest.mark.parametrize("header", ["To", "References", "X-Junk", "Content-Type"])
async def test_a_1_megabyte_header_line_is_read_in_bounded_time(mailbox, header):
    raw = a_megabyte_header_line("longword", header)
    decoded_within_bounds(raw, seconds=5, memory=100 << 20)
    row = await survives(mailbox, raw, "Long", within=20, words=("longword",))
    assert row["subject"] == f"Long {header} line" and row["from"] == MALLORY


async def test_10000_references_keep_the_first_and_the_nearest_for_threading(mailbox):
    raw = ten_thousand_references("referential")
    headers, _ = decoded_within_bounds(raw, seconds=5, memory=50 << 20)
    assert len(headers["references"]) == 10_000
    row = await survives(mailbox, raw, "Ten thousand", within=20, words=("referential",))
    assert row["subject"] == "Ten thousand references" and row["from"] == MALLORY
    db = mailbox.server.host.db
    refs = await db.fetchval("SELECT refs FROM mail_messages WHERE id = $1", row["id"])
    refs = json.loads(refs) if isinstance(refs, str) else refs
    assert len(refs) == MAX_REFERENCES and refs[0] == "<ref0@example.test>" and refs[-1] == "<ref9999@example.test>"
    links = await db.fetchval("SELECT count(*) FROM mail_thread_ids WHERE account_id = $1", mailbox.account_id)
    assert links < 200  # its own id, the kept references, the ordinary messages'


async def test_reference_loops_end_in_one_conversation_each(mailbox):
    a = referencing("loopy", "loop-a", "<loop-b@evil.test>", "Loop A")
    b = referencing("loopy", "loop-b", "<loop-a@evil.test>", "Loop B")
    me = referencing("selfish", "myself", "<myself@evil.test>", "Myself")
    await survives(mailbox, me, "Myself", within=20, words=("selfish",), others=(a, b))
    assert len(await mailbox.messages(search="loopy")) == 2
    db = mailbox.server.host.db
    threads = {
        r["subject"]: r["thread_id"]
        for r in await db.fetch(
            "SELECT subject, thread_id FROM mail_messages WHERE account_id = $1", mailbox.account_id
        )
    }
    assert threads["Loop A"] == threads["Loop B"] is not None
    assert threads["Myself"] not in (None, threads["Loop A"])
    # each Message-ID names one conversation, and each listed conversation holds its messages once
    status, body = await mailbox.api("mailMessages:listThreads", query={"paginate": "false"}, method="GET")
    assert status == 200, body
    counts = {t["main"]["subject"]: t["count"] for t in body["data"]}
    assert counts.get("Loop A", 0) + counts.get("Loop B", 0) == 2 and counts["Myself"] == 1
    assert sum(counts.values()) == len(await mailbox.messages())


async def test_nul_bytes_in_headers_bodies_and_file_names_are_dropped(mailbox):
    raw = nul_bytes("nullified")
    _, parsed = decoded_within_bounds(raw, seconds=5, memory=20 << 20)
    assert [a["filename"] for a in parsed.attachments] == ["evil.pdf"] and "\x00" not in parsed.text
    stored = message_row(
        FetchedMessage(uid=1, flags=[], internaldate=None, size=len(raw), modseq=None, raw=raw), "inbox"
    )
    assert "\x00" not in repr({k: v for k, v in stored.items() if k != "raw"})
    assert stored["from_addr"]["address"] == "mallory@evil.test"
    # Dovecot hands a NUL out as 0x80 (FETCH BODY[] is not BINARY): what arrives is that
    row = await survives(mailbox, raw, "Nul", within=20, words=("nullified",))
    assert "\x00" not in row["subject"] and row["from"]["address"] == "mallory@evil.test"
    got = await mailbox.one(row["subject"])
    (pdf,) = got["attachments"]
    assert pdf["filename"].startswith("evil") and pdf["filename"].endswith(".pdf")


async def test_invalid_utf8_everywhere_is_stored_and_searchable(mailbox):
    raw = invalid_utf8("mojibake")
    decoded_within_bounds(raw, seconds=5, memory=20 << 20)
    row = await survives(mailbox, raw, "Invalid", within=20, words=("mojibake",))
    assert row["subject"].startswith("Invalid") and row["subject"].endswith("utf-8")
    assert row["from"]["address"] == "mallory@evil.test"
    got = await mailbox.one(row["subject"])
    (odd,) = got["attachments"]
    assert odd["filename"].endswith(".bin") and "\ufffd" not in row["subject"] + odd["filename"]


async def test_a_huge_message_does_not_hold_back_the_newer_mail_of_its_batch(mail, alice, monkeypatch):
    """The parse pass reads newest first in batches bounded in bytes: the messages newer than a
    monster are decoded in a batch without it, and the monster in a batch of its own."""
    _, acc = alice
    monkeypatch.setattr(parsepass, "BATCH_BYTES", 1 << 20)
    folder = await mail.folder(acc, "inbox")
    sizes = {"newer 1": 100, "newer 2": 100, "monster": 3 << 20, "older": 100}
    for uid, (subject, size) in enumerate(sizes.items(), start=1):
        raw = f"Subject: {subject}\r\n\r\n".encode() + b"x" * size
        await mail.pool.execute(
            "INSERT INTO mail_messages (account_id, folder_id, uid, type, subject, date, raw, parse_state) "
            "VALUES ($1, $2, $3, 'inbox', $4, $5, $6, 'pending')",
            acc,
            folder,
            uid,
            subject,
            T0 - timedelta(hours=uid),
            raw,
        )
    pp = ParsePass(SimpleNamespace(db=mail.pool), accounts=lambda: [acc])
    pp.pool = ParsePool(processes=False)
    batches: list[list[str]] = []
    parse = pp._parse

    async def recording(rows):
        batches.append(
            [await mail.pool.fetchval("SELECT subject FROM mail_messages WHERE id = $1", r["id"]) for r in rows]
        )
        return await parse(rows)

    pp._parse = recording
    assert await pp.run_once()
    assert batches == [["newer 1", "newer 2"], ["monster"], ["older"]]
    assert (
        await mail.pool.fetchval("SELECT count(*) FROM mail_messages WHERE parse_state = 'ok' AND account_id = $1", acc)
        == 4
    )
