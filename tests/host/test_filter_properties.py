"""Property: whatever JSON a caller sends as ``filter``, the parser either refuses it with a 400
(``BadRequest``) or compiles a condition PostgreSQL runs without error, on real, migrated
collections (``users``, ``mailMessages`` with its json and json-list paths, and the test
collections' ``authors`` with every field type and a hasMany). Never any other exception:
anything else would be a 500, or a database error the caller's input caused."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from host.db.migrate import migrate
from host.errors import BadRequest
from host.query.filters import compile_filter, parse_filter
from host.query.operators import OPERATORS
from host.query.values import Params, ident
from host.schema import load_registry
from plugin_email_manager.migrations import migrations

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry([ROOT / "collections"])
TEST_REGISTRY = load_registry([ROOT / "collections" / "users.toml", Path(__file__).resolve().parent / "collections"])

# real names and paths, so the generated filters reach past "unknown field" into the compilers
FIELDS = {
    "users": ["id", "email", "nickname", "role", "createdAt", "passwordHash"],
    "mailMessages": [
        "id",
        "subject",
        "date",
        "read",
        "size",
        "threadId",
        "messageId",
        "references",
        "from",
        "from.address",
        "from.name",
        "to",
        "to.address",
        "cc.name",
        "labels",
        "account",
        "account.userId",
        "account.email",
        "folder.name",
        "text",
        "html",
    ],
    "authors": [
        "name",
        "age",
        "rating",
        "active",
        "born",
        "status",
        "profile",
        "profile.city",
        "profile.score",
        "addresses",
        "addresses.address",
        "publisher",
        "publisher.country",
        "books",
        "books.pages",
        "books.tags",
        "secret",
    ],
}
SUB_KEYS = ["address", "name", "city", "userId", "email", "country", "a.b", "0"]
OPS = sorted(OPERATORS) + ["$like", "$", "$not", "$and ", "$includes$"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(
        [
            "",
            "0",
            "1",
            "true",
            "false",
            "2024-03-01",
            "2024-03-01T10:00:00+02:00",
            "1e400",
            "NaN",
            "-0",
            " 7 ",
            "\x00",
            "\ud800",
            "a%_\\",
        ]
    )
    | st.text(max_size=12)
)


# an operand: a scalar or a short list; a condition: an operand, or an object of operators
# (mostly real ones, now and then junk) and sub-keys (json paths, relations' fields) to conditions
operands = scalars | st.lists(scalars, max_size=3)
conditions = st.recursive(
    operands,
    lambda inner: st.dictionaries(
        st.sampled_from(sorted(OPERATORS))
        | st.sampled_from(SUB_KEYS)
        | st.sampled_from(OPS[-5:])
        | st.text(max_size=4),
        inner,
        max_size=3,
    ),
    max_leaves=6,
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def filters(collection: str):
    """Objects keyed mostly by real fields and paths (so most reach the operator compilers),
    $and / $or of such objects, and now and then any JSON value at all."""
    real = st.sampled_from(FIELDS[collection])
    fields = st.integers(0, 9).flatmap(
        lambda n: real if n > 1 else st.sampled_from(sorted(OPERATORS)) if n else st.text(max_size=4)
    )
    objects = st.recursive(
        st.dictionaries(fields, conditions, max_size=2),
        lambda inner: (
            st.dictionaries(st.sampled_from(["$and", "$or"]), st.lists(inner, max_size=3), min_size=1)
            | st.dictionaries(fields, inner, max_size=2)
        ),
        max_leaves=5,
    )
    return st.integers(0, 9).flatmap(lambda n: any_json if n == 0 else objects)


@pytest.fixture(scope="module")
async def pools(pg_cluster):
    real = await asyncpg.create_pool(pg_cluster.create_database(), min_size=1, max_size=2)
    await migrate(real, REGISTRY, migrations())
    test = await asyncpg.create_pool(pg_cluster.create_database(), min_size=1, max_size=2)
    await migrate(test, TEST_REGISTRY, [])
    yield {"users": (real, REGISTRY), "mailMessages": (real, REGISTRY), "authors": (test, TEST_REGISTRY)}
    await real.close()
    await test.close()


async def refused_or_runs(pools, collection: str, flt, as_text: bool) -> None:
    pool, registry = pools[collection]
    coll = registry[collection]
    params = Params()
    try:
        where = compile_filter(coll, parse_filter(json.dumps(flt) if as_text else flt), params)
    except BadRequest:
        event("refused")
        return
    event("ran")
    # run exactly what was compiled: a database error here is a bug, not a 400 to translate
    await pool.fetchval(f"SELECT count(*) FROM {ident(coll.table)} t WHERE {where}", *params.values)


PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.mark.parametrize("collection", ["users", "mailMessages", "authors"])
@PROPERTY
@given(data=st.data())
async def test_any_json_filter_is_a_400_or_a_query_postgresql_runs(pools, collection, data):
    flt = data.draw(filters(collection), label="filter")
    as_text = data.draw(st.booleans(), label="sent as a query string")
    await refused_or_runs(pools, collection, flt, as_text)


# what hypothesis found, as plain cases: each was a driver or database error (a 500), now a 400
@pytest.mark.parametrize(
    "collection, raw",
    [
        ("mailMessages", '{"subject": "\\u0000"}'),  # text cannot hold NUL
        ("mailMessages", '{"references": "a\\u0000"}'),  # nor can jsonb
        ("mailMessages", '{"from.address": {"$includes": "\\ud800"}}'),  # no UTF-8 for a lone surrogate
        ("mailMessages", '{"from": {"\\u0000": 1}}'),  # a key becomes a json path
        ("mailMessages", '{"labels": {"$eq": NaN}}'),  # jsonb has no NaN
        ("authors", '{"profile.score": {"$gt": Infinity}}'),
        ("users", "[" * 100_000),  # json's decoder recursed
        ("users", '{"$and": [' * 5000 + "{}" + "]}" * 5000),
    ],
)
async def test_what_no_parameter_can_carry_is_a_400(pools, collection, raw):
    pool, registry = pools[collection]
    with pytest.raises(BadRequest) as e:
        compile_filter(registry[collection], parse_filter(raw), Params())
    assert e.value.status == 400 and e.value.code == "INVALID_FILTER"
