"""The mail list at scale: listThreads, search, getThread and the badge on a big mailbox.

    .venv/bin/python bench/list.py [--messages 1000000] [--samples 200] [--clients 16] [--seconds 10]

Starts a throwaway PostgreSQL (tests/servers/postgres.py), seeds ``--messages`` messages in a
quarter as many conversations over 20 accounts of 5 users (generated: 1-3 years of mail, replies
hours apart, bodies of realistic length, a word in 0.8% of messages and one in 20%), loaded
with COPY and indexed as the parse pass would, then measures with a warm cache:

- each query through its action handler (what the API does, answer encoded as JSON) and the
  very statements it sent, replayed as bare SQL (the floor): p50/p95 and the overhead;
- requests/s of listThreads page 1 through the real HTTP server with concurrent clients.

Mail in the platform: 2% of the mail (20,000 messages at 1,000,000), all of the first user's,
is with people at one company domain (``acme.example``); ``listForRecord`` of a company record
whose domain field holds it (a bench-only collection, ``benchCompanies``) is timed like the rest.

Targets (issue 5): p95 < 50 ms for every list query, < 5 ms for the badge, API overhead over
bare SQL < 3 ms at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from host.api import ActionContext, User  # noqa: E402
from host.db.migrate import migrate  # noqa: E402
from host.jsonio import dumps  # noqa: E402
from host.passwords import hash_password_sync  # noqa: E402
from host.schema import load_registry, parse_collection  # noqa: E402
from plugin_email_manager import unread_badge  # noqa: E402
from plugin_email_manager.actions import mail_messages  # noqa: E402
from plugin_email_manager.migrations import migrations  # noqa: E402
from plugin_email_manager.search import vector_sql  # noqa: E402
from tests.servers.postgres import PostgresCluster  # noqa: E402

USERS, ACCOUNTS = 5, 20
PASSWORD = "bench-pass-1234"
RARE, COMMON = "zeppelin", "invoice"  # in 0.8% and in 20% of messages
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
COLUMNS = (
    "id",
    "account_id",
    "folder_id",
    "uid",
    "type",
    "message_id",
    "in_reply_to",
    "refs",
    "thread_id",
    "subject",
    "from_addr",
    "to_addrs",
    "cc_addrs",
    "date",
    "snippet",
    "text",
    "read",
    "flagged",
    "answered",
    "has_attachments",
    "size",
    "parse_state",
)
TYPES = ("inbox", "sent", "archive", "trash")
COMPANY = "acme.example"  # the domain of 2% of the mail, all the first user's
COMPANIES = {
    "name": "benchCompanies",
    "fields": [
        {"name": "id", "type": "bigInt", "primaryKey": True},
        {"name": "name", "type": "string"},
        {"name": "domain", "type": "string", "interface": "domain"},
    ],
    "acl": {"member": ["list", "get"]},
}


def bench_registry():
    """The real collections, and a company collection with a domain field for listForRecord."""
    registry = load_registry([ROOT / "collections"])
    registry.add(parse_collection(COMPANIES, "bench/list.py"))
    return registry


# ---------------------------------------------------------------- generating the mailboxes


def vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    syllables = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "is", "or")]
    words = {"".join(rng.choices(syllables, k=rng.choice((2, 2, 3, 3, 4)))) for _ in range(n * 2)}
    return sorted(words - {RARE, COMMON})[:n]


def account_messages(rng, words, account: int, owner: str, n: int, first_id: int, first_thread: int):
    """(rows for COPY in sync order, number of threads) of one account."""
    contacts = [
        {"name": f"{w.capitalize()} {v.capitalize()}", "address": f"{w}.{v}@{d}.example"}
        for w, v, d in zip(rng.choices(words, k=400), rng.choices(words, k=400), rng.choices(words, k=400))
    ]
    me = {"name": owner.split("@")[0].capitalize(), "address": owner}
    msgs, thread = [], first_thread
    while len(msgs) < n:
        size = min(n - len(msgs), 1 + min(int(rng.expovariate(1 / 3)), 60))  # mean ~4, a long tail
        people = rng.sample(contacts[:60] if rng.random() < 0.7 else contacts, k=rng.choice((1, 1, 2, 3)))
        subject = " ".join(rng.choices(words, k=rng.randint(2, 6))).capitalize()
        date = NOW - timedelta(days=rng.uniform(0, 1100))
        ids: list[str] = []
        for k in range(size):
            mine = k % 2 == 1 and rng.random() < 0.8
            sender = me if mine else rng.choice(people)
            kind = "sent" if mine else rng.choices(TYPES, (85, 0, 10, 5))[0]
            recent = (NOW - date).days < 30
            read = mine or kind != "inbox" or rng.random() > (0.3 if recent else 0.01)
            body = rng.choices(words, k=max(5, min(int(rng.lognormvariate(4.4, 0.8)), 1500)))
            for word, p in ((RARE, 0.008), (COMMON, 0.2)):
                if rng.random() < p:
                    body.insert(rng.randrange(len(body)), word)
            text = " ".join(body).capitalize() + "."
            msgid = f"<{thread}.{k}.{account}@bench.example>"
            msgs.append(
                {
                    "account_id": account,
                    "type": kind,
                    "message_id": msgid,
                    "in_reply_to": ids[-1] if ids else None,
                    "refs": json.dumps(ids[-10:]),
                    "thread_id": thread,
                    "subject": ("Re: " if k else "") + subject,
                    "from_addr": json.dumps(sender),
                    "to_addrs": json.dumps(people if mine else [me]),
                    "cc_addrs": json.dumps(rng.sample(contacts, 1) if rng.random() < 0.1 else []),
                    "date": min(date, NOW),
                    "snippet": text[:100],
                    "text": text,
                    "read": read,
                    "flagged": rng.random() < 0.02,
                    "answered": False,
                    "has_attachments": rng.random() < 0.1,
                    "size": int(len(text) + rng.lognormvariate(8, 1.5)),
                    "parse_state": "ok",
                }
            )
            ids.append(msgid)
            date += timedelta(hours=rng.expovariate(1 / 8))
        thread += 1
    # the sync stores each folder newest first: ids follow that order, so a conversation's
    # messages are spread over the table as in real life
    msgs.sort(key=lambda m: (TYPES.index(m["type"]), -m["date"].timestamp()))
    for i, m in enumerate(msgs):
        m["id"] = first_id + i
    return msgs, thread - first_thread


async def with_company(pool, account_ids: list[int], n: int) -> int:
    """Whole conversations of these accounts, in a seeded order, until ``n`` messages: the people
    in them become people at ``COMPANY``. Answers the number of messages with that domain."""
    return await pool.fetchval(
        """
        WITH threads AS (
            SELECT thread_id, count(*) AS n FROM mail_messages WHERE account_id = ANY ($1::bigint[])
            GROUP BY thread_id),
        picked AS (
            SELECT thread_id FROM (
                SELECT thread_id, sum(n) OVER (ORDER BY md5(thread_id::text)) AS upto FROM threads) x
            WHERE upto <= $2),
        changed AS (
            UPDATE mail_messages m SET
                from_addr = CASE WHEN m.type = 'sent' THEN m.from_addr ELSE jsonb_build_object(
                    'name', 'Acme person', 'address', 'p' || (m.thread_id % 97) || '@' || $3::text) END,
                to_addrs = CASE WHEN m.type = 'sent' THEN jsonb_build_array(jsonb_build_object(
                    'name', 'Acme person', 'address', 'p' || (m.thread_id % 97) || '@' || $3::text))
                    ELSE m.to_addrs END
            WHERE m.thread_id IN (SELECT thread_id FROM picked) RETURNING 1)
        SELECT count(*) FROM changed
        """,
        account_ids,
        n,
        COMPANY,
    )


async def seed(pool, total: int, rng: random.Random) -> dict:
    registry = bench_registry()
    await migrate(pool, registry, [])  # collection tables only: indexes come after the load
    # what migrations 1 and 3 do first on a fresh database, before any mail arrives
    await pool.execute("ALTER TABLE mail_messages SET (toast_tuple_target = 512)")
    await pool.execute("ALTER TABLE mail_messages ADD COLUMN IF NOT EXISTS search_vector tsvector")
    pw = hash_password_sync(PASSWORD)
    users = [
        await pool.fetchval(
            "INSERT INTO users (email, role, password_hash) VALUES ($1, 'member', $2) RETURNING id",
            f"user{u}@bench.example",
            pw,
        )
        for u in range(USERS)
    ]
    words = vocabulary(rng)
    per_account = total // ACCOUNTS
    await pool.execute("CREATE UNLOGGED TABLE bench_stage AS SELECT * FROM mail_messages WITH NO DATA")
    next_id, next_thread, started = 1, 1, time.monotonic()
    for a in range(ACCOUNTS):
        user = users[a % USERS]
        email = f"box{a}@bench.example"
        # leased far into the future: a server started on this database never tries to sync it
        acc = await pool.fetchval(
            "INSERT INTO mail_accounts (user_id, provider, email, status, lease_owner, lease_until) "
            "VALUES ($1, 'imap', $2, 'ready', 'bench', now() + interval '100 years') RETURNING id",
            user,
            email,
        )
        folders = {
            t: await pool.fetchval(
                "INSERT INTO mail_folders (account_id, name, type) VALUES ($1, $2, $3) RETURNING id",
                acc,
                t.capitalize(),
                t,
            )
            for t in TYPES
        }
        msgs, n_threads = account_messages(rng, words, acc, email, per_account, next_id, next_thread)
        uids = dict.fromkeys(TYPES, 0)
        for m in msgs:
            uids[m["type"]] += 1
            m["uid"], m["folder_id"] = uids[m["type"]], folders[m["type"]]
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "bench_stage", columns=COLUMNS, records=[tuple(m[c] for c in COLUMNS) for m in msgs]
            )
        next_id += len(msgs)
        next_thread += n_threads
        print(
            f"  generated account {a + 1}/{ACCOUNTS} ({next_id - 1} messages, {time.monotonic() - started:.0f} s)",
            flush=True,
        )
    cols = ", ".join(COLUMNS)
    t = time.monotonic()

    async def load(part: int):  # two connections: the text search parser is the slow part
        async with pool.acquire() as conn:
            await conn.execute(
                f"INSERT INTO mail_messages ({cols}, search_vector) SELECT {cols}, "
                f"{vector_sql('s')} FROM bench_stage s WHERE s.account_id % 2 = $1",
                part,
            )

    await asyncio.gather(load(0), load(1))
    await pool.execute("DROP TABLE bench_stage")
    first = await pool.fetch("SELECT id FROM mail_accounts WHERE user_id = $1", users[0])
    company = await with_company(pool, [r["id"] for r in first], round(total * 0.02))
    await pool.execute("INSERT INTO bench_companies (id, name, domain) VALUES (1, 'Acme', $1)", COMPANY)
    print(f"  {company} messages with people at {COMPANY}", flush=True)
    await pool.execute("SELECT setval(pg_get_serial_sequence('mail_messages', 'id'), $1)", next_id)
    print(f"  loaded and indexed for search in {time.monotonic() - t:.0f} s", flush=True)
    t = time.monotonic()
    await migrate(pool, registry, migrations())
    await pool.execute("ALTER TABLE mail_messages DISABLE TRIGGER USER")  # heads are built in bulk below
    await pool.execute("""
        INSERT INTO mail_threads (id, account_id, subject_keys, has_root, first_date, last_date)
        SELECT thread_id, min(account_id), ARRAY[lower(min(regexp_replace(subject, '^Re: ', '')))], true,
               min(date), max(date) FROM mail_messages GROUP BY thread_id""")
    await pool.execute("SELECT setval('mail_threads_id_seq', $1)", next_thread)
    await pool.execute(
        "INSERT INTO mail_thread_ids (account_id, message_id, thread_id) "
        "SELECT DISTINCT ON (account_id, message_id) account_id, message_id, thread_id "
        "FROM mail_messages ORDER BY account_id, message_id"
    )
    await pool.execute("""
        INSERT INTO mail_thread_heads (thread_id, kind, user_id, account_id, last_date, last_id)
        SELECT h.thread_id, h.kind, a.user_id, h.account_id, h.d, h.id FROM (
            (SELECT DISTINCT ON (thread_id, type) thread_id, type AS kind, account_id, date AS d, id
             FROM mail_messages ORDER BY thread_id, type, date DESC, id DESC)
            UNION ALL
            (SELECT DISTINCT ON (thread_id) thread_id, '*', account_id, date, id
             FROM mail_messages ORDER BY thread_id, date DESC, id DESC)) h
        JOIN mail_accounts a ON a.id = h.account_id""")
    await pool.execute(
        "INSERT INTO mail_thread_counts (user_id, account_id, kind, delta) "
        "SELECT user_id, account_id, kind, count(*) FROM mail_thread_heads GROUP BY 1, 2, 3"
    )
    await pool.execute("ALTER TABLE mail_messages ENABLE TRIGGER USER")
    await pool.execute("VACUUM ANALYZE")
    print(f"  indexes, conversations, VACUUM ANALYZE in {time.monotonic() - t:.0f} s", flush=True)
    return {"users": users, "threads": next_thread - 1, "messages": next_id - 1}


# ---------------------------------------------------------------- measuring


class Recorder:
    """The pool (or a connection of it), noting every statement a handler sends (to replay them
    as the floor)."""

    def __init__(self, pool, calls=None):
        self.pool, self.calls = pool, [] if calls is None else calls

    def acquire(self):
        recorder = self

        class Acquired:
            async def __aenter__(self):
                self.cm = recorder.pool.acquire()
                return Recorder(await self.cm.__aenter__(), recorder.calls)

            async def __aexit__(self, *exc):
                return await self.cm.__aexit__(*exc)

        return Acquired()

    def __getattr__(self, name):
        method = getattr(self.pool, name)
        if name not in ("fetch", "fetchval", "fetchrow", "execute"):
            return method

        async def recorded(*args):
            self.calls.append((name, args))
            return await method(*args)

        return recorded


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


async def measure(pool, registry, name: str, call, samples: int) -> dict:
    """``call(ctx_host) -> answer`` timed as the API (answer JSON-encoded) and as its bare SQL."""
    api, sql = [], []

    async def run_api():
        rec = Recorder(pool)
        host = SimpleNamespace(db=rec, registry=registry, secrets=None, base_url="")
        t = time.perf_counter()
        dumps(await call(host))
        return time.perf_counter() - t, rec.calls

    async def run_sql(calls):
        t = time.perf_counter()
        async with pool.acquire() as conn:  # as the handler does
            for method, args in calls:
                await getattr(conn, method)(*args)
        return time.perf_counter() - t

    calls: list = []
    for i in range(samples + 10):
        # the two orders alternate, so that neither side always runs on a warmer machine
        if i % 2 == 0 or not calls:
            t_api, calls = await run_api()
            t_sql = await run_sql(calls)
        else:
            t_sql = await run_sql(calls)
            t_api, calls = await run_api()
        if i >= 10:  # the first ones warm the cache and the prepared statements
            api.append(t_api * 1000)
            sql.append(t_sql * 1000)
    rec = SimpleNamespace(calls=calls)
    out = {
        "name": name,
        "api50": pct(api, 50),
        "api95": pct(api, 95),
        "sql50": pct(sql, 50),
        "sql95": pct(sql, 95),
        "statements": len(rec.calls),
    }
    out["over50"] = out["api50"] - out["sql50"]
    print(
        f"  {name:<28} API p50 {out['api50']:7.2f} ms  p95 {out['api95']:7.2f} ms | bare SQL p50 "
        f"{out['sql50']:7.2f} ms  p95 {out['sql95']:7.2f} ms | overhead p50 {out['over50']:5.2f} ms "
        f"(x{out['api50'] / max(out['sql50'], 1e-6):.2f}) | {out['statements']} statements",
        flush=True,
    )
    return out


def list_call(registry, user, **params):
    async def call(host):
        ctx = ActionContext(
            host=host,
            collection=registry["mailMessages"],
            action="listThreads",
            params=dict(params),
            values={},
            user=user,
        )
        return await mail_messages.list_threads(ctx)

    return call


async def queries(pool, seeded: dict, samples: int, rng: random.Random) -> list[dict]:
    registry = bench_registry()
    users = [User(id=u, email=f"user{i}@bench.example", role="member") for i, u in enumerate(seeded["users"])]
    user = users[0]
    inbox = json.dumps({"type": "inbox"})
    thread_ids = [
        r["thread_id"]
        for r in await pool.fetch(
            "SELECT thread_id FROM mail_thread_heads WHERE user_id = $1 AND kind = '*' ORDER BY random() LIMIT 500",
            user.id,
        )
    ]
    stats = await pool.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE type = 'inbox' AND NOT read) AS unread, "
        "count(DISTINCT thread_id) AS threads FROM mail_messages m JOIN mail_accounts a ON a.id = m.account_id "
        "WHERE a.user_id = $1",
        user.id,
    )
    print(
        f"  user {user.email}: {stats['n']} messages, {stats['threads']} conversations, "
        f"{stats['unread']} unread in inbox",
        flush=True,
    )

    def thread_call():
        async def call(host):
            ctx = ActionContext(
                host=host,
                collection=registry["mailMessages"],
                action="getThread",
                params={"threadId": rng.choice(thread_ids)},
                values={},
                user=user,
            )
            return await mail_messages.get_thread(ctx)

        return call

    def record_call(**params):
        async def call(host):
            ctx = ActionContext(
                host=host,
                collection=registry["mailMessages"],
                action="listForRecord",
                params={"collection": "benchCompanies", "filterByTk": 1, **params},
                values={},
                user=user,
            )
            return await mail_messages.list_for_record(ctx)

        return call

    async def badge_call(host):
        return await unread_badge.unread_count(host, user)

    inbox_threads = await pool.fetchval(
        "SELECT count(*) FROM mail_thread_heads WHERE user_id = $1 AND kind = 'inbox'", user.id
    )
    deep = min(200, math.ceil(inbox_threads / 50))  # a small run has fewer pages
    plan = [
        ("listThreads inbox page 1", list_call(registry, user, filter=inbox, pageSize=50)),
        (f"listThreads inbox page {deep}", list_call(registry, user, filter=inbox, pageSize=50, page=deep)),
        (
            "listThreads unread",
            list_call(registry, user, filter=json.dumps({"type": "inbox", "read": False}), pageSize=50),
        ),
        (f"listThreads search 0.8% ({RARE})", list_call(registry, user, search=RARE, pageSize=50)),
        (f"listThreads search 20% ({COMMON})", list_call(registry, user, search=COMMON, pageSize=50)),
        ("getThread", thread_call()),
        (f"listForRecord ({COMPANY})", record_call(pageSize=50)),
        (f"listForRecord ({COMPANY}) page 5", record_call(pageSize=50, page=5)),
        (
            f"listThreads participants ({COMPANY})",
            list_call(registry, user, participants=json.dumps({"domains": [COMPANY]}), pageSize=50),
        ),
        ("badge count", badge_call),
    ]
    out = []
    for name, call in plan:
        try:
            out.append(await measure(pool, registry, name, call, samples))
        except Exception as e:  # e.g. getThread while the reader's module is incomplete
            print(f"  {name}: failed: {type(e).__name__}: {e}", flush=True)
    return out


async def http_rate(url: str, clients: int, seconds: float) -> dict | None:
    """listThreads page 1 (inbox, 50 rows) through the real server, ``clients`` at once."""
    from tests.servers.app import ServerProcess

    server = ServerProcess(url)
    try:
        await server.start()
    except Exception as e:
        print(f"  the HTTP server did not start: {e}", flush=True)
        return None
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients * 2)) as s:
            tokens = []
            for u in range(USERS):
                async with s.post(
                    server.base_url + "/api/auth:signIn", json={"email": f"user{u}@bench.example", "password": PASSWORD}
                ) as r:
                    tokens.append((await r.json())["data"]["token"])
            query = {"filter": json.dumps({"type": "inbox"}), "pageSize": "50"}
            latencies, errors = [], 0

            async def client(i: int, until: float):
                nonlocal errors
                headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
                while time.perf_counter() < until:
                    t = time.perf_counter()
                    async with s.get(
                        server.base_url + "/api/mailMessages:listThreads", params=query, headers=headers
                    ) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                    latencies.append((time.perf_counter() - t) * 1000)

            await asyncio.gather(*(client(i, time.perf_counter() + 2) for i in range(clients)))  # warm-up
            latencies.clear()
            start = time.perf_counter()
            await asyncio.gather(*(client(i, start + seconds) for i in range(clients)))
            elapsed = time.perf_counter() - start
        out = {
            "rps": len(latencies) / elapsed,
            "p50": pct(latencies, 50),
            "p95": pct(latencies, 95),
            "errors": errors,
            "clients": clients,
        }
        print(
            f"  HTTP listThreads page 1, {clients} clients: {out['rps']:.0f} requests/s, "
            f"p50 {out['p50']:.1f} ms, p95 {out['p95']:.1f} ms, {errors} errors",
            flush=True,
        )
        return out
    finally:
        server.stop()


async def assign_rate(pool, rng: random.Random) -> None:
    """Threading new mail: 2,000 messages stored in batches of 500, as the sync does."""
    from plugin_email_manager.conversations import assign_threads

    acc, folder = await pool.fetchrow("SELECT account_id, id FROM mail_folders WHERE type = 'inbox' LIMIT 1")
    parents = [
        r["message_id"]
        for r in await pool.fetch(
            "SELECT message_id FROM mail_messages WHERE account_id = $1 ORDER BY random() LIMIT 2000", acc
        )
    ]
    took = 0.0
    for b in range(4):
        async with pool.acquire() as conn, conn.transaction():
            ids = [
                r["id"]
                for r in await conn.fetch(
                    "INSERT INTO mail_messages (account_id, folder_id, uid, type, message_id, in_reply_to, refs, "
                    "subject, from_addr, to_addrs, date, read) SELECT $1, $2, 10000000 + $3 * 1000 + g, 'inbox', "
                    "'<new' || $3 || '.' || g || '@bench>', p, jsonb_build_array(p), 'Re: news', "
                    '\'{"name": "N", "address": "n@x.example"}\', \'[]\', now(), false '
                    "FROM generate_series(1, 500) g, "
                    "LATERAL (SELECT CASE WHEN g % 2 = 0 THEN ($4::text[])[g] END AS p) x "
                    "RETURNING id",
                    acc,
                    folder,
                    b,
                    parents[b * 500 : (b + 1) * 500],
                )
            ]
            t = time.perf_counter()
            await assign_threads(conn, acc, ids)
            took += time.perf_counter() - t
    print(f"  assign_threads: {2000 / took:.0f} messages/s (batches of 500, half of them replies)", flush=True)
    # gone again, so that a --reuse run measures the mailbox as seeded (these were never parsed:
    # a search would take them for a first sync under way and ask their server)
    await pool.execute("DELETE FROM mail_messages WHERE account_id = $1 AND message_id LIKE '<new%@bench>'", acc)


async def measure_again(args) -> None:
    """``--reuse URL``: the queries again on a database seeded by an earlier ``--keep`` run, as it
    is now (after a change to the code, or to its indexes), without the hour of seeding."""
    pool = await asyncpg.create_pool(args.reuse, min_size=2, max_size=4)
    try:
        users = [
            r["id"] for r in await pool.fetch("SELECT id FROM users WHERE email LIKE 'user%@bench.example' ORDER BY id")
        ]
        seeded = {"users": users, "messages": await pool.fetchval("SELECT count(*) FROM mail_messages")}
        await migrate(pool, bench_registry(), migrations())  # a migration added since
        print(f"measuring {seeded['messages']} messages again ({args.samples} samples each, warm cache)", flush=True)
        results = await queries(pool, seeded, args.samples, random.Random(args.seed))
    finally:
        await pool.close()
    summary(results)


def summary(results: list[dict]) -> None:
    print("\nsummary (targets: list p95 < 50 ms, badge p95 < 5 ms, API overhead p50 < 3 ms)")
    for r in results:
        target = 5 if r["name"] == "badge count" else 50
        ok = "ok" if r["api95"] < target and r["over50"] < 3 else "MISSED"
        print(
            f"  {r['name']:<32} p50 {r['api50']:7.2f}  p95 {r['api95']:7.2f}  floor p50 {r['sql50']:7.2f}  "
            f"overhead {r['over50']:5.2f} ms  {ok}"
        )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="leave the database running (to look at plans)")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP server part")
    ap.add_argument("--reuse", metavar="URL", help="measure the database a --keep run left (no seeding)")
    args = ap.parse_args()
    if args.reuse:
        await measure_again(args)
        return
    rng = random.Random(args.seed)
    cluster, url = PostgresCluster().start(), None
    try:
        psql = [str(cluster.bin / "psql"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-qc"]
        for setting in (
            "shared_buffers = '2GB'",
            "work_mem = '32MB'",
            "maintenance_work_mem = '512MB'",
            "effective_cache_size = '8GB'",
            "max_wal_size = '8GB'",
            "random_page_cost = 1.1",
        ):
            subprocess.run([*psql, f"ALTER SYSTEM SET {setting}"], check=True)
        subprocess.run(
            [*cluster._as, str(cluster.bin / "pg_ctl"), "-D", str(cluster.dir / "data"), "-w", "restart"],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = cluster.create_database()
        pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
        print(f"seeding {args.messages} messages, {USERS} users, {ACCOUNTS} accounts", flush=True)
        t = time.monotonic()
        seeded = await seed(pool, args.messages, rng)
        size = await pool.fetchval("SELECT pg_size_pretty(pg_total_relation_size('mail_messages'))")
        print(
            f"seeded {seeded['messages']} messages in {seeded['threads']} conversations in "
            f"{time.monotonic() - t:.0f} s; mail_messages with its indexes: {size}",
            flush=True,
        )
        await pool.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for rel in await pool.fetch(
            "SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relname LIKE "
            "'mail_%' AND c.relkind IN ('r', 'i', 't')"
        ):
            await pool.execute("SELECT pg_prewarm($1)", rel["name"])
        print(f"measuring ({args.samples} samples each, warm cache)", flush=True)
        results = await queries(pool, seeded, args.samples, rng)
        await assign_rate(pool, rng)
        await pool.close()
        rate = None if args.no_http else await http_rate(url, args.clients, args.seconds)
        summary(results)
        if rate:
            print(f"  HTTP listThreads page 1: {rate['rps']:.0f} req/s with {rate['clients']} clients")
    finally:
        if args.keep:
            print(
                f"\nkept: {url}\nstop it with: {' '.join(cluster._as)} {cluster.bin}/pg_ctl -D {cluster.dir}/data "
                "-m immediate stop"
            )
        else:
            cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
