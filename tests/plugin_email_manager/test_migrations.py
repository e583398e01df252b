"""The email manager's migrations, as an upgraded server sees them: every one a database has
recorded keeps its text, so the server neither runs it again nor refuses to start; and each
function and trigger they create is named in the header of its file, for the reader."""

from __future__ import annotations

import re
from importlib import resources

from host.db.migrate import checksum
from plugin_email_manager.migrations import migrations

# (version, name, sha256 of the text) as released; recorded in host_migrations of every database
# that ran them. Moving the SQL into files (plugin_email_manager/migrations/*.sql) kept them.
RELEASED = [
    (1, "message indexes", "eba209fb7452260c9109f64de04f75b4d220d96ef80e54b3d87251e9f4453d3e"),
    (2, "conversations", "07652ce6206a6913b773910daa9f8bc4d39e623647d9fce283cadbad7edc48f2"),
    (3, "full-text search", "822e5e3bce1367d9e02afa21853d406d127af0007036d42349c8989bf4b9cf7a"),
    (4, "conversation counts, narrow rows", "2eeb263fcd47b86b4b618ca86ac1e7121738995d47da802d369ad8a7542c9a21"),
    (5, "lz4 compression, parse-pending index", "478bc181041aed01bdafa2373f275a84a6cc68086916b7cec7caa924b993594f"),
    (
        6,
        "conversation lookups without a pending list",
        "220bbd0a1d3bfb70e1a6d16e2940c801b492556fbd3f9ae770a94a9888a25041",
    ),
    (
        7,
        "the parse pass takes the newest mail first",
        "05fb0ef68f21a16024c5644d7ee42c3b3f29c7ee9a7719b435f43b634cf71484",
    ),
    (
        8,
        "scheduled send: the lease of a message being sent",
        "e1624fbd4170a6d02a3df9703cd28ceb7aee3e8c96c56afa19312f5a92635d9e",
    ),
    (9, "the webhook queue, bounces' originals", "c554e08774ead7220eb7584c21f92e7a6170f59f7c92f6d126edb755c52b66dc"),
    (
        10,
        "participants: each message's From, To and Cc addresses",
        "ba6a74a275c385b8d7c4414886e5759e70f6f1472f80173a40cf553c0f681d2a",
    ),
    (
        11,
        "participants carry their conversation and date",
        "decae455db20ffb94911067910baffe64fae2af6434d9ea3d580732732cd92a6",
    ),
    (
        12,
        "labels: one name per user, which message carries which",
        "d56cb8a073f797dbce1ca3e3ff7b7c9e6c5601e76575b72ca7b857bcc873f781",
    ),
    (
        13,
        "headers first: text parts and attachments fetched after listing",
        "ee87672c89861bc98ee08a02cd80dddeacc609a5b812443791299bccbf98d741",
    ),
    (
        15,
        "a search of a common word walks each account newest first",
        "c1a023ed4d2343c1413d4f3c75c94f6d45eb277372b0216d54e6acddac18a88c",
    ),
]
# migration 5's first text, which failed where PostgreSQL lacks lz4, still counts as applied
REPLACED = {5: ("fbf865141a206e9c5774bcb9d0da3ab440073c21426ab6479095c18023d0a039",)}


def test_every_released_migration_keeps_the_text_databases_recorded():
    current = [(m.version, m.name, checksum(m.sql)) for m in migrations()]
    assert current[: len(RELEASED)] == RELEASED
    assert {m.version: m.replaces for m in migrations() if m.replaces} == REPLACED


def test_each_function_and_trigger_is_named_in_the_header_of_its_file():
    files = sorted(
        (f for f in resources.files("plugin_email_manager.migrations").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    assert [f.name[:3] for f in files] == [f"{m.version:03}" for m in migrations()]
    for f in files:
        lines = f.read_text(encoding="utf-8").splitlines()
        start = next(i for i, line in enumerate(lines) if not line.startswith("--"))
        header, body = "\n".join(lines[:start]), "\n".join(lines[start:])
        created = re.findall(r"CREATE (?:OR REPLACE )?(?:FUNCTION|TRIGGER) (\w+)", body)
        assert [name for name in created if name not in header] == [], f.name
