"""Migrations against a real PostgreSQL: idempotent, additive, typed, serialized, versioned."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from host.api import Migration
from host.db.migrate import checksum, migrate
from host.errors import ConfigError
from host.schema import load_registry

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "collections"
TEST = Path(__file__).resolve().parent / "collections"

WIDGETS = """
name = "widgets"
[[fields]]
name = "id"
type = "bigInt"
primaryKey = true
[[fields]]
name = "name"
type = "string"
{extra}
"""


@pytest.fixture
async def conn(database_url):
    c = await asyncpg.connect(database_url)
    yield c
    await c.close()


def widgets(tmp_path: Path, extra: str = ""):
    path = tmp_path / "widgets.toml"
    path.write_text(WIDGETS.format(extra=extra))
    return load_registry([path])


async def columns(conn, table: str) -> dict[str, tuple[str, str | None]]:
    rows = await conn.fetch(
        "SELECT column_name, data_type, column_default FROM information_schema.columns WHERE table_name = $1", table
    )
    return {r["column_name"]: (r["data_type"], r["column_default"]) for r in rows}


async def test_every_collection_migrates_and_a_second_run_does_nothing(conn):
    registry = load_registry([REAL, TEST])
    done = await migrate(conn, registry, [])
    assert any(line.startswith('mailMessages v1: CREATE TABLE "mail_messages"') for line in done)
    assert await migrate(conn, registry, []) == []
    cols = await columns(conn, "mail_messages")
    assert cols["from_addr"][0] == "jsonb" and cols["date"][0] == "timestamp with time zone"
    assert cols["read"] == ("boolean", "false") and cols["raw"][0] == "bytea"
    assert "attachments" not in cols  # hasMany is virtual
    versions = await conn.fetch("SELECT target, version, sql FROM host_migrations WHERE kind = 'collection'")
    assert {r["target"] for r in versions} == set(registry) and {r["version"] for r in versions} == {1}
    fk = await conn.fetchval(
        "SELECT confdeltype::text FROM pg_constraint WHERE conname = 'mail_messages_account_id_fkey'"
    )
    assert fk == "c"
    assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email_key'") == 1
    # the identity id and the foreign keys work as declared
    uid = await conn.fetchval("INSERT INTO users (email) VALUES ('a@x') RETURNING id")
    await conn.execute("INSERT INTO mail_accounts (user_id, provider, email) VALUES ($1, 'imap', 'a@x')", uid)
    await conn.execute("DELETE FROM users WHERE id = $1", uid)
    assert await conn.fetchval("SELECT count(*) FROM mail_accounts") == 0
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute("INSERT INTO users (email) VALUES ('b@x'), ('b@x')")


async def test_a_new_field_adds_its_column_and_keeps_the_data(conn, tmp_path):
    await migrate(conn, widgets(tmp_path), [])
    await conn.execute("INSERT INTO widgets (name) VALUES ('one'), ('two')")
    done = await migrate(
        conn,
        widgets(
            tmp_path,
            '[[fields]]\nname = "size"\ntype = "integer"\ndefault = 3\n'
            'index = true\n[[fields]]\nname = "code"\ntype = "string"\n'
            "unique = true\n",
        ),
        [],
    )
    assert done == [
        'widgets v2: ALTER TABLE "widgets" ADD COLUMN "size" integer DEFAULT 3',
        'widgets v2: ALTER TABLE "widgets" ADD COLUMN "code" text',
        'widgets v2: CREATE INDEX "widgets_size_idx" ON "widgets" ("size")',
        'widgets v2: CREATE UNIQUE INDEX "widgets_code_key" ON "widgets" ("code")',
    ]
    rows = await conn.fetch("SELECT name, size FROM widgets ORDER BY id")
    assert [tuple(r) for r in rows] == [("one", 3), ("two", 3)]
    recorded = await conn.fetchrow(
        "SELECT version, sql, checksum FROM host_migrations WHERE target = 'widgets' ORDER BY version DESC LIMIT 1"
    )
    assert recorded["version"] == 2 and 'ADD COLUMN "size"' in recorded["sql"] and len(recorded["checksum"]) == 64


async def test_a_changed_type_or_default_is_migrated_with_the_data(conn, tmp_path):
    await migrate(
        conn,
        widgets(
            tmp_path,
            '[[fields]]\nname = "size"\ntype = "string"\ndefault = "7"\n[[fields]]\nname = "meta"\ntype = "text"\n',
        ),
        [],
    )
    await conn.execute("INSERT INTO widgets (name, size, meta) VALUES ('one', '42', 'plain'), ('two', DEFAULT, NULL)")
    done = await migrate(
        conn,
        widgets(
            tmp_path,
            '[[fields]]\nname = "size"\ntype = "bigInt"\ndefault = 0\n[[fields]]\nname = "meta"\ntype = "json"\n',
        ),
        [],
    )
    assert 'widgets v2: ALTER TABLE "widgets" ALTER COLUMN "size" TYPE bigint USING "size"::bigint' in done
    assert 'widgets v2: ALTER TABLE "widgets" ALTER COLUMN "size" SET DEFAULT 0' in done
    cols = await columns(conn, "widgets")
    assert cols["size"] == ("bigint", "0") and cols["meta"][0] == "jsonb"
    rows = await conn.fetch("SELECT size, meta::text AS meta FROM widgets ORDER BY id")
    assert [tuple(r) for r in rows] == [(42, '"plain"'), (7, None)]
    # dropping the default, and removing a field from the file, keeps column and data
    done = await migrate(conn, widgets(tmp_path, '[[fields]]\nname = "size"\ntype = "bigInt"\n'), [])
    assert done == ['widgets v3: ALTER TABLE "widgets" ALTER COLUMN "size" DROP DEFAULT']
    assert (await columns(conn, "widgets"))["meta"][0] == "jsonb"
    assert await conn.fetchval("SELECT meta::text FROM widgets WHERE size = 42") == '"plain"'
    assert await migrate(conn, widgets(tmp_path, '[[fields]]\nname = "size"\ntype = "bigInt"\n'), []) == []


async def test_changed_flags_change_indexes_and_foreign_keys(conn, tmp_path):
    users = REAL / "users.toml"
    owner = (
        '[[fields]]\nname = "ownerId"\ntype = "bigInt"\nunique = true\n[[fields]]\nname = "owner"\n'
        'type = "belongsTo"\ntarget = "users"\nforeignKey = "ownerId"\nonDelete = "{on}"\n'
    )
    path = tmp_path / "widgets.toml"
    path.write_text(WIDGETS.format(extra=owner.format(on="cascade")))
    await migrate(conn, load_registry([users, path]), [])
    path.write_text(WIDGETS.format(extra=owner.format(on="restrict").replace("unique = true", "index = true")))
    done = await migrate(conn, load_registry([users, path]), [])
    assert done == [
        'widgets v2: DROP INDEX "widgets_owner_id_key"',
        'widgets v2: CREATE INDEX "widgets_owner_id_idx" ON "widgets" ("owner_id")',
        'widgets v2: ALTER TABLE "widgets" DROP CONSTRAINT "widgets_owner_id_fkey"',
        'widgets v2: ALTER TABLE "widgets" ADD CONSTRAINT "widgets_owner_id_fkey" FOREIGN KEY ("owner_id") '
        'REFERENCES "users" ("id") ON DELETE RESTRICT',
    ]
    # an index a plugin made by hand is never dropped, even one named like ours
    await conn.execute("CREATE INDEX widgets_name_idx ON widgets (name)")
    assert await migrate(conn, load_registry([users, path]), []) == []
    uid = await conn.fetchval("INSERT INTO users (email) VALUES ('a@x') RETURNING id")
    await conn.execute("INSERT INTO widgets (name, owner_id) VALUES ('w', $1), ('v', $1)", uid)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("DELETE FROM users")


async def test_two_starters_at_once_take_turns(database_url):
    registry = load_registry([REAL, TEST])
    plugin = [Migration("p", 1, "counter", "CREATE TABLE p_counter (n int); INSERT INTO p_counter VALUES (1)")]
    a, b = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        first, second = await asyncio.gather(migrate(a, registry, plugin), migrate(b, registry, plugin))
        done = first + second  # whoever came second found nothing left to do
        assert sum(line.startswith("users v1: CREATE TABLE") for line in done) == 1
        assert sum(line == "p migration 1: counter" for line in done) == 1
        assert await a.fetchval("SELECT count(*) FROM p_counter") == 1
        assert await a.fetchval("SELECT count(*) FROM host_migrations WHERE target = 'users'") == 1
    finally:
        await a.close()
        await b.close()


async def test_plugin_migrations_run_once_in_order_and_may_not_change(conn, tmp_path):
    registry = widgets(tmp_path)
    log_sql = "CREATE TABLE IF NOT EXISTS runs (what text, at serial); INSERT INTO runs (what) VALUES ('{}')"
    ms = [
        Migration("zeta", 1, "z1", log_sql.format("z1")),
        Migration("alpha", 2, "a2", log_sql.format("a2")),
        Migration(
            "alpha", 1, "a1", log_sql.format("a1") + "; CREATE INDEX widgets_name_lower ON widgets (lower(name))"
        ),
    ]
    done = await migrate(conn, registry, ms)
    assert done[-3:] == ["alpha migration 1: a1", "alpha migration 2: a2", "zeta migration 1: z1"]
    assert [r["what"] for r in await conn.fetch("SELECT what FROM runs ORDER BY at")] == ["a1", "a2", "z1"]
    assert await migrate(conn, registry, ms) == []
    assert await conn.fetchval("SELECT count(*) FROM runs") == 3
    changed = [Migration("alpha", 1, "a1", "SELECT 1")]
    with pytest.raises(ConfigError, match="alpha 1 .a1. was changed"):
        await migrate(conn, registry, changed)
    with pytest.raises(ConfigError, match="declared twice"):
        await migrate(conn, registry, [ms[0], ms[0]])
    # a fixed text that names the recorded one as what it replaces counts as applied: not run again
    fixed = [Migration("alpha", 1, "a1", "SELECT 1", replaces=(checksum(ms[2].sql),)), ms[1], ms[0]]
    assert await migrate(conn, registry, fixed) == []
    assert await conn.fetchval("SELECT count(*) FROM runs") == 3


async def test_a_failing_migration_is_a_config_error_and_leaves_nothing(conn, tmp_path):
    registry = widgets(tmp_path)
    with pytest.raises(ConfigError, match="broken"):
        await migrate(conn, registry, [Migration("p", 1, "broken", "CREATE TABLE t1 (a int); SELECT nope")])
    assert await conn.fetchval("SELECT to_regclass('t1')") is None
    assert await conn.fetchval("SELECT count(*) FROM host_migrations WHERE kind = 'plugin'") == 0
