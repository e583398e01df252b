"""Waiting for news from the server: IDLE (RFC 2177), else NOOP polling.

An announcement is an untagged EXISTS, EXPUNGE, VANISHED or FETCH. A new-mail EXISTS that came
during an earlier command (a FETCH, a SEARCH) was kept by the session and is answered at once.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugin_email_manager.mailsync.imap import ImapSession

PUSHES = ("EXISTS", "EXPUNGE", "FETCH", "VANISHED")
POLL_SECONDS = 30.0  # NOOP interval when the server has no IDLE
BURST_SECONDS = 0.05  # a delivery comes as EXISTS, RECENT, maybe FETCH: one wake-up for all


def _is_push(r) -> bool:
    return r.kind == "untagged" and r.name in PUSHES


async def noop(session: "ImapSession") -> list[str]:
    _, untagged = await session._run(b"NOOP")
    # A new-mail EXISTS is already among the kept announcements (see ImapConnection._observe).
    pushed = session._pushes + [r.line() for r in untagged if _is_push(r) and r.name != "EXISTS"]
    session._pushes = []
    return pushed


async def idle(session: "ImapSession", timeout: float) -> list[str]:
    if session._pushes:
        pushed, session._pushes = session._pushes, []
        return pushed
    if "IDLE" not in session.capabilities:
        return await _poll(session, timeout)
    async with session._lock:
        try:
            await session._settle()
            pushed = await _idle(session, timeout)
        except BaseException as e:
            session._broken(e)  # cancelled mid-IDLE: the connection is left in IDLE, so it goes
            raise
    session._pushes = []  # what came during IDLE is in ``pushed`` already
    return pushed


async def _idle(session: "ImapSession", timeout: float) -> list[str]:
    wire = session.wire
    tag = session._next_tag()
    await wire.send(tag + b" IDLE\r\n")
    pushed: list[str] = []
    while (r := await session._read()).kind != "continuation":
        if r.kind == "tagged" and r.tag == tag:
            raise session._failed(r, b"IDLE")
        if _is_push(r):
            pushed.append(r.line())
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pushed and end - loop.time() > 0 and await wire.wait_readable(end - loop.time()):
        r = await session._read()
        if _is_push(r):
            pushed.append(r.line())
    while pushed and await wire.wait_readable(BURST_SECONDS):
        r = await session._read()
        if _is_push(r):
            pushed.append(r.line())
    await wire.send(b"DONE\r\n")
    while not ((r := await session._read()).kind == "tagged" and r.tag == tag):
        if _is_push(r):
            pushed.append(r.line())
    if r.name != "OK":
        raise session._failed(r, b"IDLE")
    return pushed


async def _poll(session: "ImapSession", timeout: float) -> list[str]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        pushed = await noop(session)
        left = end - loop.time()
        if pushed or left <= 0:
            return pushed
        await asyncio.sleep(min(POLL_SECONDS, left))
