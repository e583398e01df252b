"""Many accounts in one server process: memory, CPU at rest, new mail's delay under load, takeover.

    .venv/bin/python bench/accounts.py [--accounts 500] [--rate 2] [--seconds 60] [--clients 20]
                                       [--streams 50] [--messages 20] [--rest 30] [--lease 60]
                                       [--dovecot-poll 1] [--keep-logs]

One Dovecot with ``--accounts`` users, each INBOX holding ``--messages`` small messages (written
as Maildir files), one throwaway PostgreSQL, and ``email-center serve`` as a subprocess
(``ServerProcess``: its memory is its own). Then:

1. Through the API: root creates one member a mail account (``users:create``), who signs in and
   adds it (``mailAccounts:create``: the login checks, then the first sync). Waits until every
   account is ``ready`` with nothing left to parse and the server holds one IDLE per account
   (``email_center_idle_connections`` of ``GET /api/metrics``).
2. At rest: resident memory of the server process and of its parse workers (RSS; PSS beside it,
   which counts pages shared by the forked workers once), and the CPU seconds of every party
   over ``--rest`` s with no mail arriving. Baseline from the same run: the same server just
   started, before any account (memory; CPU at rest over 10 s).
3. Under load: mail is delivered over LMTP at ``--rate`` messages/s for ``--seconds`` s, each to
   the INBOX of a random one of ``--streams`` accounts (picked at random), whose users hold a
   badge stream (``GET /api/badges:stream``, SSE) open; ``--clients`` of them also call
   ``mailMessages:listThreads`` in a loop, each as its own user, with no pause. For each
   delivered message, the delay from the start of its LMTP delivery until (a) it appears in its
   user's ``listThreads`` answer (for the ``--clients`` accounts), (b) its user's badge stream
   pushes the higher unread count, (c) its row is in PostgreSQL (polled every 0.1 s). An error
   is an HTTP status other than 200, a stream that ends, or a delivery not seen on a path
   within 30 s. Baseline from the same run: the floor, Dovecot's own IDLE push (a bare IMAP
   client in IDLE on an account of its own, outside the server, sent a message every 2 s
   during the load: delay until ``* n EXISTS``).
4. Two processes: a second ``email-center serve`` on the same database; after two supervisor
   ticks, who holds which lease (``mail_accounts.lease_owner``, whose middle field is the pid);
   then SIGKILL to the process holding the most, and the time until the other holds every lease
   and an IDLE on every account, and until a message delivered at the kill to an orphaned
   account (the lowest and the highest id: claims go by id, 50 a tick) shows in ``listThreads``
   through the survivor; and once all is taken, a fresh message's delay to the list.

Targets (issue "Load"): resident < 1 GB (server and parse workers), p95 < 5 s on (a) and (b),
no error. The leases last ``--lease`` s (the product's default, 60): a takeover cannot start
sooner. Everything started is stopped at the end, on Ctrl-C or SIGTERM too. The machine is
shared: the report gives medians and percentiles, and the load average.

Dovecot hears of new mail by inotify only in the first 128 IMAP processes of its vmail user (the
kernel's fs.inotify.max_user_instances), the others look every ``mailbox_idle_check_interval``:
``--dovecot-poll`` sets it (1 s; 0 keeps Dovecot's 30 s). The floor row shows Dovecot's share.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from procwatch import _children, _stat  # noqa: E402  (bench/, beside this script)

from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, ServerProcess  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402
from tests.servers.postgres import PostgresCluster  # noqa: E402
from tests.servers.smtp import SmtpSink  # noqa: E402

MB = 1e6
SEEN_WITHIN = 30.0  # a delivery not seen on a path within this is an error
FLOOR_USER, FLOOR_EVERY = "floor@example.test", 2.0
MEMBER_PASSWORD = "member-pass-1234"
TICK = 5.5  # the supervisor's tick, with its jitter (mailsync/supervisor.py)


def user_of(i: int) -> str:
    return f"u{i:04d}@example.test"


def password_of(i: int) -> str:
    return f"imap-pass-{i}"


def small_message(to: str, subject: str, body: str, msgid: str | None = None, when: datetime | None = None) -> bytes:
    return (
        f"From: Sender <sender@example.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(when or datetime.now(UTC))}\r\n"
        f"Message-ID: {msgid or make_msgid(domain='example.test')}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}\r\n"
    ).encode()


# ---------------------------------------------------------------- /proc


def tree(root: int) -> dict[int, tuple[float, int]]:
    """{pid: (CPU seconds, RSS bytes)} of a process and its descendants."""
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in out or not pid or (st := _stat(pid)) is None:
            continue
        out[pid] = (st[1], st[2])
        todo += _children(pid)
    return out


def pss(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def hwm(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def memory(pid: int) -> dict:
    """The server's resident memory, and its descendants' (the parse workers and their fork server)."""
    procs = tree(pid)
    kids = [p for p in procs if p != pid]
    return {
        "rss": procs.get(pid, (0, 0))[1],
        "pss": pss(pid),
        "hwm": hwm(pid),
        "workers": len(kids),
        "workers_rss": sum(procs[p][1] for p in kids),
        "workers_pss": sum(pss(p) for p in kids),
    }


def cpu_of(roots: dict[str, int]) -> dict[str, float]:
    return {name: sum(c for c, _ in tree(pid).values()) for name, pid in roots.items()}


def _pid(path: Path) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.read_text().split()[0])
    return 0


# ---------------------------------------------------------------- figures


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def dist(values: list[float]) -> str:
    if not values:
        return "no samples"
    return f"n={len(values):<4} p50 {pct(values, 50):6.2f}  p95 {pct(values, 95):6.2f}  max {max(values):6.2f} s"


def table(rows: list[tuple[str, str, str]], title: str) -> None:
    w = max(len(r[0]) for r in rows) + 2
    v = max(len(r[1]) for r in rows) + 2
    print(f"\n{title}")
    print(f"  {'':<{w}}{'figure':<{v}}target")
    for name, figure, target in rows:
        print(f"  {name:<{w}}{figure:<{v}}{target}")


def verdict(ok: bool, target: str) -> str:
    return f"{target}: {'ok' if ok else 'MISSED'}"


# ---------------------------------------------------------------- the API


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str):
        self.session, self.base = session, base

    async def call(self, method: str, action: str, token: str | None = None, body=None, params=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, f"{self.base}/api/{action}", json=body, params=params, headers=headers
        ) as r:
            payload = await r.read()
            try:
                return r.status, json.loads(payload) if payload else None
            except ValueError:
                return r.status, payload

    async def sign_in(self, email: str, password: str) -> str:
        status, body = await self.call("POST", "auth:signIn", body={"email": email, "password": password})
        if status != 200:
            raise RuntimeError(f"sign-in of {email}: {status} {body}")
        return body["data"]["token"]

    async def idle_connections(self, root: str) -> float:
        headers = {"Authorization": f"Bearer {root}"}
        async with self.session.get(f"{self.base}/api/metrics", headers=headers) as r:
            text = await r.text()
        m = re.search(r"^email_center_idle_connections (\S+)$", text, re.MULTILINE)
        return float(m.group(1)) if m else float("nan")

    async def subjects(self, token: str) -> tuple[int, set[str]]:
        """(status, subjects on the first page of the user's inbox threads)."""
        status, body = await self.call(
            "GET", "mailMessages:listThreads", token, params={"filter": json.dumps({"type": "inbox"}), "pageSize": "20"}
        )
        if status != 200:
            return status, set()
        return status, {t["main"]["subject"] for t in body["data"]}


# ---------------------------------------------------------------- setup


async def create_accounts(
    api: Api, root: str, n: int, dovecot: Dovecot, sink: SmtpSink, concurrency: int = 8
) -> tuple[dict[int, str], dict[int, int], list[float], list[str]]:
    """Member i signs in and adds mail account i; answers (tokens, account ids, create seconds, errors)."""
    tokens, accounts, took, errors = {}, {}, [], []
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        email = user_of(i)
        async with sem:
            try:
                member = {"email": email, "password": MEMBER_PASSWORD, "nickname": email.split("@")[0]}
                status, body = await api.call("POST", "users:create", root, member)
                if status != 200:
                    raise RuntimeError(f"users:create {status} {body}")
                tokens[i] = await api.sign_in(email, MEMBER_PASSWORD)
                t = time.monotonic()
                status, body = await api.call(
                    "POST",
                    "mailAccounts:create",
                    tokens[i],
                    {
                        "provider": "imap",
                        "email": email,
                        "password": password_of(i),
                        "imapHost": "127.0.0.1",
                        "imapPort": dovecot.port,
                        "imapSecurity": "none",
                        "smtpHost": "127.0.0.1",
                        "smtpPort": sink.port,
                        "smtpSecurity": "none",
                    },
                )
                took.append(time.monotonic() - t)
                if status != 200:
                    raise RuntimeError(f"mailAccounts:create {status} {body}")
                accounts[i] = body["data"]["id"]
            except Exception as e:  # noqa: BLE001  (counted and reported, the others go on)
                errors.append(f"{email}: {e}")

    await asyncio.gather(*(one(i) for i in range(n)))
    return tokens, accounts, took, errors


async def wait_ready(api: Api, root: str, db: asyncpg.Connection, n: int, expect_messages: int, timeout: float) -> dict:
    """Poll once a second until every account is ready, parsed and idling; answers when each came."""
    start, out = time.monotonic(), {"ready": None, "parsed": None, "idle": None}
    last = None
    while time.monotonic() - start < timeout:
        row = await db.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'ready') AS ready, "
            "count(*) FILTER (WHERE status = 'error') AS error, "
            "coalesce(sum(parse_pending), 0) AS pending FROM mail_accounts"
        )
        idle = await api.idle_connections(root)
        now = time.monotonic() - start
        if row["ready"] >= n and out["ready"] is None:
            out["ready"] = now
        if out["ready"] is not None and row["pending"] == 0 and out["parsed"] is None:
            out["parsed"] = now
        if idle >= n and out["idle"] is None:
            out["idle"] = now
        state = (row["ready"], row["error"], row["pending"], idle)
        if state != last:
            print(
                f"  {now:6.1f} s: ready {row['ready']}/{n}, error {row['error']}, parse pending "
                f"{row['pending']}, IDLE {idle:.0f}",
                flush=True,
            )
            last = state
        if all(v is not None for v in out.values()):
            break
        await asyncio.sleep(1)
    out["messages"] = await db.fetchval("SELECT count(*) FROM mail_messages")
    out["expected"] = expect_messages
    out["errors"] = [
        dict(r)
        for r in await db.fetch("SELECT id, email, error FROM mail_accounts WHERE status = 'error' ORDER BY id LIMIT 5")
    ]
    return out


# ---------------------------------------------------------------- the load


class Watch:
    """Deliveries and when each path saw them."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.by_user: dict[int, list[dict]] = {}
        self.badge_base: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.list_latency: list[float] = []
        self.floor: list[dict] = []

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def delivered(self, user: int, subject: str, msgid: str, t0: float) -> dict:
        d = {"user": user, "subject": subject, "msgid": msgid, "t0": t0, "list": None, "badge": None, "stored": None}
        self.deliveries.append(d)
        self.by_user.setdefault(user, []).append(d)
        return d

    def badge(self, user: int, count: int, now: float) -> None:
        if user not in self.badge_base:
            self.badge_base[user] = count
            return
        for k, d in enumerate(self.by_user.get(user, ()), 1):
            if d["badge"] is None and count >= self.badge_base[user] + k:
                d["badge"] = now - d["t0"]


async def badge_stream(
    session: aiohttp.ClientSession, base: str, token: str, user: int, watch: Watch, opened: asyncio.Event
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with session.get(
            f"{base}/api/badges:stream", headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)
        ) as r:
            if r.status != 200:
                watch.error(f"badge stream HTTP {r.status}")
                return
            async for line in r.content:
                if line.startswith(b"data: "):
                    now = time.monotonic()
                    count = next((b["count"] for b in json.loads(line[6:]) if b["name"] == "mail"), None)
                    if count is not None:
                        watch.badge(user, count, now)
                        opened.set()
        watch.error("badge stream ended")
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001
        watch.error(f"badge stream: {type(e).__name__}")


async def lister(api: Api, token: str, user: int, watch: Watch, stop: asyncio.Event) -> None:
    """listThreads in a loop, as ``user``; marks the deliveries to it that the answer shows."""
    while not stop.is_set():
        t = time.monotonic()
        try:
            status, subjects = await api.subjects(token)
        except aiohttp.ClientError as e:
            watch.error(f"listThreads: {type(e).__name__}")
            await asyncio.sleep(0.5)
            continue
        now = time.monotonic()
        watch.list_latency.append(now - t)
        if status != 200:
            watch.error(f"listThreads HTTP {status}")
            await asyncio.sleep(0.1)
            continue
        for d in watch.by_user.get(user, ()):
            if d["list"] is None and d["subject"] in subjects:
                d["list"] = now - d["t0"]


async def stored_poller(db: asyncpg.Connection, watch: Watch, stop: asyncio.Event) -> None:
    while not stop.is_set():
        pending = {d["msgid"]: d for d in watch.deliveries if d["stored"] is None}
        if pending:
            ids = list(pending) + [m.strip("<>") for m in pending]
            rows = await db.fetch("SELECT DISTINCT message_id FROM mail_messages WHERE message_id = ANY($1)", ids)
            now = time.monotonic()
            for r in rows:
                d = pending.get(r["message_id"]) or pending.get(f"<{r['message_id']}>")
                if d and d["stored"] is None:
                    d["stored"] = now - d["t0"]
        await asyncio.sleep(0.1)


async def floor_watcher(dovecot: Dovecot, watch: Watch, ready: asyncio.Event) -> None:
    """A bare IMAP client in IDLE: the time of each ``* n EXISTS`` (Dovecot's own push)."""
    reader, writer = await asyncio.open_connection(dovecot.host, dovecot.port)
    try:
        await reader.readline()
        for cmd in (f'a LOGIN "{FLOOR_USER}" "floor-pass"', "b SELECT INBOX", "c IDLE"):
            writer.write(cmd.encode() + b"\r\n")
            await writer.drain()
            while not (line := await reader.readline()).startswith((cmd[:2].encode(), b"+")):
                if not line:
                    raise ConnectionError("the floor connection closed")
        ready.set()
        seen = 0
        while line := await reader.readline():
            if line.endswith(b"EXISTS\r\n"):
                now = time.monotonic()
                for d in watch.floor[seen:]:
                    d["seen"] = now - d["t0"]
                seen = len(watch.floor)
    finally:
        writer.close()


async def deliver(dovecot: Dovecot, user: str, subject: str, msgid: str) -> float:
    """LMTP delivery in a thread; answers its start (monotonic)."""
    raw = small_message(user, subject, "A message delivered during the load.", msgid)
    t0 = time.monotonic()
    await asyncio.to_thread(dovecot.deliver, user, raw)
    return t0


async def load(
    args,
    api: Api,
    session: aiohttp.ClientSession,
    db: asyncpg.Connection,
    dovecot: Dovecot,
    tokens: dict[int, str],
    rng: random.Random,
) -> Watch:
    watch = Watch()
    stop = asyncio.Event()
    watched = rng.sample(sorted(tokens), args.streams)  # anywhere among the accounts, not the first made
    listed = watched[: args.clients]
    tasks: list[asyncio.Task] = []
    opened = {u: asyncio.Event() for u in watched}
    floor_ready = asyncio.Event()
    try:
        for u in watched:
            tasks.append(asyncio.create_task(badge_stream(session, api.base, tokens[u], u, watch, opened[u])))
        tasks.append(asyncio.create_task(floor_watcher(dovecot, watch, floor_ready)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened.values()), floor_ready.wait()), 60)
        tasks += [asyncio.create_task(lister(api, tokens[u], u, watch, stop)) for u in listed]
        tasks.append(asyncio.create_task(stored_poller(db, watch, stop)))
        await asyncio.sleep(1)  # the listers' first answers
        total = int(args.rate * args.seconds)
        start = time.monotonic()
        next_floor = start
        lmtp: list[float] = []
        for i in range(total):
            at = start + i / args.rate
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            if time.monotonic() >= next_floor:
                msgid = make_msgid(domain="floor.example.test")
                watch.floor.append({"t0": time.monotonic(), "seen": None})
                await deliver(dovecot, FLOOR_USER, f"Floor {len(watch.floor)}", msgid)
                next_floor += FLOOR_EVERY
            u = rng.choice(watched)
            subject, msgid = f"Load {i:05d} to {u}", make_msgid(domain="load.example.test")
            t = time.monotonic()
            watch.delivered(u, subject, msgid, t)
            try:
                await deliver(dovecot, user_of(u), subject, msgid)
            except Exception as e:  # noqa: BLE001
                watch.error(f"LMTP: {type(e).__name__}")
            lmtp.append(time.monotonic() - t)
        watch.rate = total / (time.monotonic() - start)
        watch.lmtp = lmtp
        end = time.monotonic() + SEEN_WITHIN
        while time.monotonic() < end:
            if all(
                d["badge"] is not None
                and d["stored"] is not None
                and (d["list"] is not None or d["user"] not in listed)
                for d in watch.deliveries
            ):
                break
            await asyncio.sleep(0.2)
        watch.listed = set(listed)
    finally:
        stop.set()
        await asyncio.sleep(0.3)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return watch


# ---------------------------------------------------------------- two processes


async def lease_split(db: asyncpg.Connection, procs: dict[str, ServerProcess]) -> dict[str, int]:
    rows = await db.fetch("SELECT lease_owner, count(*) AS n FROM mail_accounts GROUP BY 1")
    out = {name: 0 for name in procs} | {"none": 0, "other": 0}
    for r in rows:
        owner = r["lease_owner"] or ""
        name = next((k for k, p in procs.items() if f":{p.proc.pid}:" in owner), "none" if not owner else "other")
        out[name] += r["n"]
    return out


async def watch_for(api: Api, token: str, subject: str, since: float, until: float) -> float | None:
    while time.monotonic() < until:
        with contextlib.suppress(aiohttp.ClientError):
            status, subjects = await api.subjects(token)
            if status == 200 and subject in subjects:
                return time.monotonic() - since
        await asyncio.sleep(0.2)
    return None


async def takeover(
    args,
    first: ServerProcess,
    db: asyncpg.Connection,
    session: aiohttp.ClientSession,
    root: str,
    dovecot: Dovecot,
    tokens: dict[int, str],
    accounts: dict[int, int],
    rng: random.Random,
    env: dict,
) -> dict:
    second = await ServerProcess(first.env["EMAIL_CENTER_DATABASE_URL"], env=env).start()
    out: dict = {"second": second}
    procs = {"A": first, "B": second}
    # A lets go of what is over its share once it sees B's heartbeat, B claims it (at most
    # CLAIM_BATCH a tick): wait until the two hold half each, or give up after 3 minutes
    started, half = time.monotonic(), len(accounts) // 2
    while True:
        out["split"] = await lease_split(db, procs)
        if min(out["split"]["A"], out["split"]["B"]) >= half or time.monotonic() - started > 180:
            break
        await asyncio.sleep(0.5)
    out["split_seconds"] = time.monotonic() - started
    api_b = Api(session, second.base_url)
    out["idle_before"] = {
        "A": await Api(session, first.base_url).idle_connections(root),
        "B": await api_b.idle_connections(root),
    }
    victim, survivor = ("A", "B") if out["split"]["A"] >= out["split"]["B"] else ("B", "A")
    out["victim"] = victim
    dead, alive = procs[victim], procs[survivor]
    api_alive = Api(session, alive.base_url)
    account_user = {a: u for u, a in accounts.items()}
    orphans = sorted(
        r["id"]
        for r in await db.fetch("SELECT id FROM mail_accounts WHERE lease_owner LIKE $1", f"%:{dead.proc.pid}:%")
    )
    out["orphans"] = len(orphans)
    dead.stop(signal.SIGKILL)
    killed = time.monotonic()
    limit = killed + args.lease + (len(accounts) / 50 + 4) * TICK + 120
    probes = []
    for account in dict.fromkeys([orphans[0], orphans[-1]] if orphans else []):
        u = account_user[account]
        subject = f"After the kill to {u}"
        await deliver(dovecot, user_of(u), subject, make_msgid(domain="takeover.example.test"))
        probes.append((account, u, subject))
    seen = [asyncio.create_task(watch_for(api_alive, tokens[u], s, killed, limit)) for _, u, s in probes]
    out["all_held"] = out["all_idle"] = None
    while time.monotonic() < limit and (out["all_held"] is None or out["all_idle"] is None):
        split = await lease_split(db, procs)
        if split[survivor] >= len(accounts) and out["all_held"] is None:
            out["all_held"] = time.monotonic() - killed
        with contextlib.suppress(aiohttp.ClientError):
            if await api_alive.idle_connections(root) >= len(accounts) and out["all_idle"] is None:
                out["all_idle"] = time.monotonic() - killed
        await asyncio.sleep(0.25)
    out["probes"] = [(account, await task) for (account, _, _), task in zip(probes, seen)]
    out["final_split"] = await lease_split(db, procs)
    if orphans:
        u = account_user[rng.choice(orphans)]
        subject = f"After the takeover to {u}"
        t0 = await deliver(dovecot, user_of(u), subject, make_msgid(domain="takeover.example.test"))
        out["after"] = await watch_for(api_alive, tokens[u], subject, t0, time.monotonic() + SEEN_WITHIN)
    out["survivor_memory"] = memory(alive.proc.pid)
    return out


# ---------------------------------------------------------------- the run


def dovecot_warnings(dovecot: Dovecot) -> list[str]:
    found: dict[str, None] = {}
    for line in dovecot.log().splitlines():
        if "Warning" in line or "Error" in line or "Fatal" in line:
            found.setdefault(re.sub(r"\d+", "N", line.split(": ", 1)[-1])[:160], None)
    return list(found)[:5]


def log_problems(proc: ServerProcess) -> list[str]:
    """The distinct ERROR lines and exceptions of a server's log (first 5)."""
    if not proc.log.exists():
        return []
    found: dict[str, None] = {}
    for line in proc.log.read_text(errors="replace").splitlines():
        if re.search(r"\bERROR\b|Traceback|Exception|Error:", line):
            found.setdefault(re.sub(r"\d+", "N", line.strip())[:160], None)
    return list(found)[:5]


async def run(args, cluster: PostgresCluster, dovecot: Dovecot, sink: SmtpSink, started: list) -> None:
    n, rng = args.accounts, random.Random(args.seed)
    url = cluster.create_database()
    env = {"EMAIL_CENTER_LEASE_SECONDS": str(args.lease)}
    first = ServerProcess(url, env=env)
    started.append(first)
    t = time.monotonic()
    await first.start()
    print(f"server A up in {time.monotonic() - t:.1f} s (pid {first.proc.pid})", flush=True)
    pg_pid, dovecot_pid = _pid(cluster.dir / "data" / "postmaster.pid"), _pid(dovecot.dir / "run" / "master.pid")
    roots = {"server": first.proc.pid, "postgres": pg_pid, "dovecot": dovecot_pid}
    db = await asyncpg.connect(url)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        api = Api(session, first.base_url)
        root = await api.sign_in(ROOT_EMAIL, ROOT_PASSWORD)
        await asyncio.sleep(3)  # the parse workers start (warm) a moment after the server
        base_mem = memory(first.proc.pid)
        c0 = cpu_of(roots)
        await asyncio.sleep(args.base_rest)
        c1 = cpu_of(roots)
        base_cpu = {k: (c1[k] - c0[k]) / args.base_rest for k in roots}
        print(
            f"baseline (no account): server RSS {base_mem['rss'] / MB:.0f} MB, CPU at rest "
            f"{base_cpu['server'] * 100:.1f}% of a core",
            flush=True,
        )

        print(f"creating {n} members and accounts ...", flush=True)
        t = time.monotonic()
        tokens, accounts, create_took, create_errors = await create_accounts(api, root, n, dovecot, sink)
        created = time.monotonic() - t
        print(f"  {len(accounts)} accounts created in {created:.1f} s; errors {len(create_errors)}", flush=True)
        for e in create_errors[:5]:
            print(f"    {e}")
        ready = await wait_ready(
            api, root, db, len(accounts), len(accounts) * args.messages, timeout=max(300.0, 2.0 * n)
        )
        settle = time.monotonic()
        await asyncio.sleep(3)
        mem = memory(first.proc.pid)
        c0, w0 = cpu_of(roots), time.monotonic()
        await asyncio.sleep(args.rest)
        c1, w1 = cpu_of(roots), time.monotonic()
        rest_cpu = {k: (c1[k] - c0[k]) / (w1 - w0) for k in roots}
        dovecot_procs = len(tree(dovecot_pid))
        dovecot_rss = sum(pss(p) for p in tree(dovecot_pid))  # PSS: their shared pages counted once
        pg_rss = sum(pss(p) for p in tree(pg_pid))
        print(
            f"at rest: server RSS {mem['rss'] / MB:.0f} MB, CPU {rest_cpu['server'] * 100:.1f}% of a core "
            f"({time.monotonic() - settle:.0f} s after all idle)",
            flush=True,
        )

        print(
            f"load: {args.rate}/s for {args.seconds} s into {args.streams} accounts, {args.clients} listers ...",
            flush=True,
        )
        self_cpu0 = time.process_time()
        lc0, lt0 = cpu_of(roots), time.monotonic()
        watch = await load(args, api, session, db, dovecot, tokens, rng)
        lc1, lt1 = cpu_of(roots), time.monotonic()
        load_cpu = {k: (lc1[k] - lc0[k]) / (lt1 - lt0) for k in roots}
        load_cpu["bench"] = (time.process_time() - self_cpu0) / (lt1 - lt0)
        load_mem = memory(first.proc.pid)

        print("two processes ...", flush=True)
        over = await takeover(args, first, db, session, root, dovecot, tokens, accounts, rng, env)
        started.append(over["second"])
        problems = {"A": log_problems(first), "B": log_problems(over["second"])}
        problems["Dovecot"] = dovecot_warnings(dovecot)
    await db.close()
    report(
        args,
        n,
        accounts,
        create_took,
        create_errors,
        created,
        ready,
        base_mem,
        base_cpu,
        mem,
        rest_cpu,
        dovecot_procs,
        dovecot_rss,
        pg_rss,
        watch,
        load_cpu,
        load_mem,
        over,
        problems,
    )


def report(
    args,
    n,
    accounts,
    create_took,
    create_errors,
    created,
    ready,
    base_mem,
    base_cpu,
    mem,
    rest_cpu,
    dovecot_procs,
    dovecot_rss,
    pg_rss,
    watch,
    load_cpu,
    load_mem,
    over,
    problems,
) -> None:
    na = len(accounts)

    def fmt(v: float | None) -> str:
        return "never" if v is None else f"{v:.1f} s"

    table(
        [
            (
                "accounts created (users:create, signIn, mailAccounts:create)",
                f"{na}/{n} in {created:.1f} s",
                verdict(not create_errors, "no error"),
            ),
            ("mailAccounts:create, per call", dist(create_took), ""),
            (
                "all ready (first syncs done), from the first create",
                fmt(ready["ready"] and ready["ready"] + created),
                "",
            ),
            ("all parsed", fmt(ready["parsed"] and ready["parsed"] + created), ""),
            (
                "one IDLE per account (server's gauge)",
                fmt(ready["idle"] and ready["idle"] + created),
                verdict(ready["idle"] is not None, "all idle"),
            ),
            (
                "messages stored",
                f"{ready['messages']} of {ready['expected']}",
                verdict(ready["messages"] == ready["expected"], "all"),
            ),
        ],
        f"setup: {n} accounts, {args.messages} messages each",
    )
    total = mem["rss"] + mem["workers_rss"]
    table(
        [
            (
                "server process RSS (PSS)",
                f"{mem['rss'] / MB:.0f} MB ({mem['pss'] / MB:.0f})",
                (
                    f"baseline, no account: {base_mem['rss'] / MB:.0f} MB; per account "
                    f"{(mem['rss'] - base_mem['rss']) / max(na, 1) / 1e3:.0f} KB"
                ),
            ),
            (
                f"parse workers ({mem['workers']} procs) RSS (PSS)",
                f"{mem['workers_rss'] / MB:.0f} MB ({mem['workers_pss'] / MB:.0f})",
                f"baseline {base_mem['workers_rss'] / MB:.0f} MB",
            ),
            ("server + workers RSS", f"{total / MB:.0f} MB", verdict(total < 1e9, "< 1 GB")),
            ("server peak RSS so far (VmHWM)", f"{mem['hwm'] / MB:.0f} MB", ""),
            (
                "after the load: server + workers RSS",
                f"{(load_mem['rss'] + load_mem['workers_rss']) / MB:.0f} MB",
                verdict(load_mem["rss"] + load_mem["workers_rss"] < 1e9, "< 1 GB"),
            ),
            (
                f"Dovecot ({dovecot_procs} procs), PostgreSQL PSS",
                f"{dovecot_rss / MB:.0f} MB, {pg_rss / MB:.0f} MB",
                "(for reference)",
            ),
            (
                f"CPU at rest over {args.rest:.0f} s: server + workers",
                f"{rest_cpu['server'] * 100:.1f}% of a core",
                f"baseline, no account: {base_cpu['server'] * 100:.1f}%",
            ),
            (
                "CPU at rest: PostgreSQL, Dovecot",
                f"{rest_cpu['postgres'] * 100:.1f}%, {rest_cpu['dovecot'] * 100:.1f}%",
                f"baseline {base_cpu['postgres'] * 100:.1f}%, {base_cpu['dovecot'] * 100:.1f}%",
            ),
        ],
        "at rest (all accounts idling, no mail arriving)",
    )

    ds = watch.deliveries
    listed = [d for d in ds if d["user"] in watch.listed]
    paths = {
        "list": [d["list"] for d in listed if d["list"] is not None],
        "badge": [d["badge"] for d in ds if d["badge"] is not None],
        "stored": [d["stored"] for d in ds if d["stored"] is not None],
    }
    late = {
        "list": [d for d in listed if d["list"] is None or d["list"] > SEEN_WITHIN],
        "badge": [d for d in ds if d["badge"] is None or d["badge"] > SEEN_WITHIN],
        "stored": [d for d in ds if d["stored"] is None or d["stored"] > SEEN_WITHIN],
    }
    floor = [d["seen"] for d in watch.floor if d.get("seen") is not None]
    fp50 = pct(floor, 50)

    def ratio(v: list[float]) -> str:
        return f"p50 {pct(v, 50) / fp50:.1f}x the floor's" if v and fp50 > 0 else ""

    errors = sum(watch.errors.values()) + sum(len(v) for v in late.values())
    table(
        [
            ("delivered (LMTP)", f"{len(ds)} at {watch.rate:.2f}/s; LMTP p50 {pct(watch.lmtp, 50) * 1e3:.0f} ms", ""),
            ("floor: Dovecot's IDLE push (bare client)", dist(floor), f"{len(watch.floor) - len(floor)} unseen"),
            (
                "(a) delivery -> in listThreads",
                dist(paths["list"]),
                verdict(bool(paths["list"]) and pct(paths["list"], 95) < 5, "p95 < 5 s") + "; " + ratio(paths["list"]),
            ),
            (
                "(b) delivery -> badge stream count",
                dist(paths["badge"]),
                verdict(bool(paths["badge"]) and pct(paths["badge"], 95) < 5, "p95 < 5 s")
                + "; "
                + ratio(paths["badge"]),
            ),
            ("(c) delivery -> row in PostgreSQL", dist(paths["stored"]), ratio(paths["stored"])),
            (
                "not seen within 30 s: (a), (b), (c)",
                f"{len(late['list'])}, {len(late['badge'])}, {len(late['stored'])}",
                verdict(not any(late.values()), "none"),
            ),
            (
                "listThreads calls, latency",
                (
                    f"{len(watch.list_latency)} ({len(watch.list_latency) / args.seconds:.0f}/s); "
                    f"p50 {pct(watch.list_latency, 50) * 1e3:.0f} ms, p95 {pct(watch.list_latency, 95) * 1e3:.0f} ms"
                ),
                "",
            ),
            (
                "HTTP / stream errors",
                ", ".join(f"{k} x{v}" for k, v in watch.errors.items()) or "none",
                verdict(not watch.errors, "none"),
            ),
            (
                "CPU during the load: server+workers, PG, Dovecot, bench",
                ", ".join(f"{load_cpu[k] * 100:.0f}%" for k in ("server", "postgres", "dovecot", "bench")),
                "of a core (2 cores)",
            ),
            ("errors in all", str(errors), verdict(errors == 0, "no error")),
        ],
        f"load: {args.rate}/s for {args.seconds:.0f} s into {args.streams} accounts with a badge stream, "
        f"{args.clients} of them listing in a loop",
    )

    split, victim = over["split"], over["victim"]
    survivor = "B" if victim == "A" else "A"
    alive_mem = over["survivor_memory"]
    probe_rows = [
        (f"message to orphaned account {a} at the kill -> in listThreads via {survivor}", fmt(s), "from the kill")
        for a, s in over["probes"]
    ]
    table(
        [
            (
                f"leases once shared with B: A, B, none (lease {args.lease:.0f} s)",
                f"{split['A']}, {split['B']}, {split['none'] + split['other']} after {over['split_seconds']:.1f} s",
                f"IDLE gauge A {over['idle_before']['A']:.0f}, B {over['idle_before']['B']:.0f}",
            ),
            (f"SIGKILL {victim}: orphaned accounts", str(over["orphans"]), ""),
            (
                f"kill -> {survivor} holds every lease",
                fmt(over["all_held"]),
                f"floor: the lease lapses {args.lease - TICK:.0f}-{args.lease} s after the kill",
            ),
            (f"kill -> {survivor} holds an IDLE per account", fmt(over["all_idle"]), ""),
            *probe_rows,
            ("after the takeover: delivery -> in listThreads", fmt(over.get("after")), "< 5 s"),
            (
                "leases at the end: A, B, none",
                (
                    f"{over['final_split']['A']}, {over['final_split']['B']}, "
                    f"{over['final_split']['none'] + over['final_split']['other']}"
                ),
                "",
            ),
            (
                f"{survivor} after: server RSS, {alive_mem['workers']} parse workers' RSS",
                f"{alive_mem['rss'] / MB:.0f} MB, {alive_mem['workers_rss'] / MB:.0f} MB",
                verdict(alive_mem["rss"] + alive_mem["workers_rss"] < 1e9, "< 1 GB"),
            ),
        ],
        "two processes on one database",
    )
    for name, lines in problems.items():
        if lines:
            print(f"\n{'' if name == 'Dovecot' else 'server '}{name} log, distinct warnings and errors (first 5):")
            for line in lines:
                print(f"  {line}")
    if ready["errors"]:
        print(f"\naccounts in error: {ready['errors']}")
    with contextlib.suppress(OSError):
        limit = Path("/proc/sys/fs/inotify/max_user_instances").read_text().strip()
        print(
            f"\nfs.inotify.max_user_instances {limit}; Dovecot's mailbox_idle_check_interval "
            f"{args.dovecot_poll or 30} s"
        )
    print(
        f"\nload average (1, 5, 15 min) at the end: {tuple(round(x, 2) for x in os.getloadavg())} on "
        f"{os.cpu_count()} cores"
    )


def _stop_on_sigterm(*_):
    raise KeyboardInterrupt  # SIGTERM ends the run like Ctrl-C: the finally blocks clean up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=500)
    ap.add_argument("--messages", type=int, default=20, help="messages in each INBOX before its first sync")
    ap.add_argument("--rate", type=float, default=2.0, help="deliveries per second during the load")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    ap.add_argument("--clients", type=int, default=20, help="users calling listThreads in a loop")
    ap.add_argument("--streams", type=int, default=50, help="users holding a badge stream (mail goes to them)")
    ap.add_argument("--rest", type=float, default=30.0, help="seconds of CPU at rest measured")
    ap.add_argument("--base-rest", type=float, default=10.0, help="the same with no account (baseline)")
    ap.add_argument("--lease", type=int, default=60, help="EMAIL_CENTER_LEASE_SECONDS of both servers")
    ap.add_argument(
        "--dovecot-poll",
        type=int,
        default=1,
        help="Dovecot's mailbox_idle_check_interval in s (0: Dovecot's default, 30 s)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep-logs", action="store_true", help="leave the servers' logs behind")
    args = ap.parse_args()
    args.streams = min(args.streams, args.accounts)
    args.clients = min(args.clients, args.streams)
    if args.accounts < 1 or args.rate <= 0 or args.seconds <= 0:
        ap.error("--accounts, --rate and --seconds take a positive number")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns at each SMTP login check
    print(f"load average at start: {tuple(round(x, 2) for x in os.getloadavg())}", flush=True)
    started: list = []
    try:
        cluster = PostgresCluster()
        started.append(cluster)
        cluster.start()
        users = {user_of(i): password_of(i) for i in range(args.accounts)} | {FLOOR_USER: "floor-pass"}
        # Each IMAP connection is a Dovecot process of the vmail user, which learns of new mail by
        # inotify while the kernel grants one (fs.inotify.max_user_instances, 128 by default), and
        # otherwise by looking every mailbox_idle_check_interval (30 s by default).
        poll = f"mailbox_idle_check_interval = {args.dovecot_poll} secs\n" if args.dovecot_poll else ""
        dovecot = Dovecot(users=users, extra_conf=poll)
        started.append(dovecot)
        t = time.monotonic()
        dovecot.start()
        now = time.time()
        for i in range(args.accounts):
            u = user_of(i)
            dovecot.write_maildir(
                u,
                [
                    small_message(
                        u,
                        f"Welcome {k} of {u}",
                        f"Message {k} of the first sync.",
                        when=datetime.fromtimestamp(now - 3600 + k, UTC),
                    )
                    for k in range(args.messages)
                ],
            )
        dovecot.write_maildir(FLOOR_USER, [])
        print(
            f"Dovecot with {args.accounts} users, {args.messages} messages each, in {time.monotonic() - t:.1f} s",
            flush=True,
        )
        sink = SmtpSink(users=users)
        started.append(sink.start())
        asyncio.run(run(args, cluster, dovecot, sink, started))
    finally:
        for thing in reversed(started):
            with contextlib.suppress(Exception):
                thing.stop()
            if isinstance(thing, ServerProcess) and not args.keep_logs:
                shutil.rmtree(thing.dir, ignore_errors=True)
            elif isinstance(thing, ServerProcess):
                print(f"kept the server's log: {thing.log}")


if __name__ == "__main__":
    main()
