"""The generic actions (list, get, create, update, destroy) on a real database, as a caller sees
them: pages, sorting, field choice, appends, input errors as 400s, and scopes that make other
users' records indistinguishable from records that do not exist."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest

from host.actions import create, destroy, get, update
from host.actions import listing as list_
from host.api import ActionContext, User
from host.db.migrate import migrate
from host.errors import BadRequest, NotFound
from host.schema import load_registry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry([ROOT / "collections" / "users.toml", Path(__file__).resolve().parent / "collections"])


@pytest.fixture(scope="module")
async def template(pg_cluster):
    """One migrated database; each test gets a copy (CREATE DATABASE ... TEMPLATE is quick)."""
    url = pg_cluster.create_database()
    conn = await asyncpg.connect(url)
    await migrate(conn, REGISTRY, [])
    await conn.close()
    return url.rsplit("/", 1)[1]


class Api:
    def __init__(self, pool, users):
        self.pool = pool
        self.host = SimpleNamespace(db=pool)
        self.root, self.ann, self.bob = users

    async def call(self, action, collection, params=None, values=None, user=None):
        module = {"list": list_, "get": get, "create": create, "update": update, "destroy": destroy}[action]
        ctx = ActionContext(
            host=self.host,
            collection=REGISTRY[collection],
            action=action,
            params=params or {},
            values=values if values is not None else {},
            user=user,
        )
        return await module.run(ctx)


@pytest.fixture
async def api(pg_cluster, template):
    name = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(pg_cluster.url())
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    await admin.close()
    pool = await asyncpg.create_pool(pg_cluster.url(name), min_size=1, max_size=4)
    users = []
    for email, role in (("root@x.test", "root"), ("ann@x.test", "member"), ("bob@x.test", "member")):
        uid = await pool.fetchval("INSERT INTO users (email, role) VALUES ($1, $2) RETURNING id", email, role)
        users.append(User(id=uid, email=email, role=role))
    yield Api(pool, users)
    await pool.close()


async def seed_authors(api):
    pub = (await api.call("create", "publishers", values={"name": "Penguin", "country": "NL"}))["data"]
    made = []
    for name, age in (("Cleo", 40), ("Abe", 30), ("Bea", 30), ("Dov", None)):
        made.append(
            (
                await api.call(
                    "create",
                    "authors",
                    values={
                        "name": name,
                        "age": age,
                        "publisher": pub["id"],
                        "email": f"{name.lower()}@x.org",
                        "bio": f"{name} wrote",
                        "apiKey": "k-" + name,
                    },
                )
            )["data"]
        )
    for i, author in enumerate(made[:2]):
        for j in range(2):
            await api.call(
                "create",
                "books",
                values={
                    "title": f"{author['name']} {j}",
                    "authorId": author["id"],
                    "published": f"202{i}-0{j + 1}-01T08:00:00Z",
                },
            )
    return pub, {a["name"]: a for a in made}


# ---------------------------------------------------------------- list: pages, sort, fields


async def test_pages_and_their_meta(api):
    for i in range(23):
        await api.call("create", "publishers", values={"name": f"P{i:02d}"})
    page = await api.call("list", "publishers", {"page": "3", "pageSize": "10", "sort": "name"})
    assert [r["name"] for r in page["data"]] == ["P20", "P21", "P22"]
    assert page["meta"] == {"count": 23, "page": 3, "pageSize": 10, "totalPage": 3}
    first = await api.call("list", "publishers", {})
    assert len(first["data"]) == 20 and first["meta"] == {"count": 23, "page": 1, "pageSize": 20, "totalPage": 2}
    beyond = await api.call("list", "publishers", {"page": 9})
    assert beyond["data"] == [] and beyond["meta"]["count"] == 23
    everything = await api.call("list", "publishers", {"paginate": "false"})
    assert len(everything["data"]) == 23 and "meta" not in everything
    assert (await api.call("list", "publishers", {"pageSize": 5000}))["meta"]["pageSize"] == 1000
    empty = await api.call("list", "publishers", {"filter": '{"name": "none"}'})
    assert empty == {"data": [], "meta": {"count": 0, "page": 1, "pageSize": 20, "totalPage": 0}}
    for bad in ({"page": "x"}, {"page": 0}, {"pageSize": "-1"}, {"paginate": "perhaps"}):
        with pytest.raises(BadRequest):
            await api.call("list", "publishers", bad)


async def test_sort_ascending_descending_and_on_several_fields(api):
    await seed_authors(api)
    names = lambda res: [r["name"] for r in res["data"]]  # noqa: E731
    assert names(await api.call("list", "authors", {})) == ["Abe", "Bea", "Cleo", "Dov"]  # file: name
    assert names(await api.call("list", "authors", {"sort": "-name"})) == ["Dov", "Cleo", "Bea", "Abe"]
    assert names(await api.call("list", "authors", {"sort": "age,-name"})) == ["Bea", "Abe", "Cleo", "Dov"]
    assert names(await api.call("list", "authors", {"sort": ["-age", "name"]})) == ["Dov", "Cleo", "Abe", "Bea"]
    books = await api.call("list", "books", {"fields": "title"})  # file: -published, id
    assert [b["title"] for b in books["data"]] == ["Abe 1", "Abe 0", "Cleo 1", "Cleo 0"]
    for bad in ("nope", "-secret", "apiKey", "publisher"):
        with pytest.raises(BadRequest, match="sort"):
            await api.call("list", "authors", {"sort": bad})


async def test_fields_except_and_what_is_never_answered(api):
    await seed_authors(api)
    rows = (await api.call("list", "authors", {"fields": "name,age"}))["data"]
    assert rows[0] == {"id": rows[0]["id"], "name": "Abe", "age": 30}
    rows = (await api.call("list", "authors", {"fields": ["name"]}))["data"]
    assert set(rows[0]) == {"id", "name"}
    row = (await api.call("list", "authors", {"except": "email,profile,addresses,id"}))["data"][0]
    assert "email" not in row and "profile" not in row and "id" in row and "age" in row
    # list=false fields: only when asked; get has them
    assert "bio" not in row
    assert (await api.call("list", "authors", {"appends": "bio"}))["data"][0]["bio"] == "Abe wrote"
    assert (await api.call("list", "authors", {"fields": "bio"}))["data"][0]["bio"] == "Abe wrote"
    full = (await api.call("get", "authors", {"filterByTk": row["id"]}))["data"]
    assert full["bio"] == "Abe wrote"
    assert full["joinedAt"].endswith("+00:00") and full["status"] == "new" and full["active"] is True
    for secret in ("secret", "apiKey", "avatar"):
        assert secret not in full
        with pytest.raises(BadRequest, match=f"unknown field '{secret}'"):
            await api.call("list", "authors", {"fields": secret})
    assert await api.pool.fetchval("SELECT api_key FROM authors WHERE id = $1", row["id"]) == "k-Abe"


async def test_appends_belongs_to_and_has_many(api):
    pub, authors = await seed_authors(api)
    rows = (await api.call("list", "authors", {"appends": "publisher,books", "fields": "name"}))["data"]
    abe = rows[0]
    assert abe["publisher"] == {"id": pub["id"], "name": "Penguin", "country": "NL"}
    assert [b["title"] for b in abe["books"]] == ["Abe 1", "Abe 0"]  # books' own order
    assert abe["books"][0]["published"] == "2021-02-01T08:00:00+00:00"
    assert rows[3]["name"] == "Dov" and rows[3]["books"] == []
    book = (await api.call("list", "books", {"appends": ["author.publisher"], "fields": "title"}))["data"][0]
    assert book["author"]["name"] == "Abe" and book["author"]["publisher"]["name"] == "Penguin"
    assert "secret" not in book["author"] and "apiKey" not in book["author"] and "bio" not in book["author"]
    slim = (await api.call("list", "books", {"fields": "title,author.name"}))["data"][0]
    assert slim == {"id": slim["id"], "title": "Abe 1", "author": {"id": authors["Abe"]["id"], "name": "Abe"}}
    nobody = (await api.call("create", "books", values={"title": "Orphan"}))["data"]
    got = (await api.call("get", "books", {"filterByTk": nobody["id"], "appends": "author"}))["data"]
    assert got["author"] is None
    with pytest.raises(BadRequest, match="appends"):
        await api.call("list", "authors", {"appends": "nope"})


# ---------------------------------------------------------------- get


async def test_get_by_id_in_any_form(api):
    _, authors = await seed_authors(api)
    abe = authors["Abe"]["id"]
    for tk in (abe, str(abe), [str(abe)], f"[{abe}]"):
        assert (await api.call("get", "authors", {"filterByTk": tk}))["data"]["name"] == "Abe"
    assert (await api.call("get", "authors", {"filter": {"name": "Cleo"}}))["data"]["age"] == 40
    with pytest.raises(NotFound):
        await api.call("get", "authors", {"filterByTk": abe + 1000})
    with pytest.raises(NotFound):
        await api.call("get", "authors", {"filter": '{"name": "Zed"}'})
    for bad in ("abc", 2**70, [abe, abe + 1], {"a": 1}, "[1,"):
        with pytest.raises(BadRequest):
            await api.call("get", "authors", {"filterByTk": bad})
    with pytest.raises(BadRequest) as e:
        await api.call("get", "authors", {})
    assert e.value.code == "MISSING_FILTER"


# ---------------------------------------------------------------- create


async def test_create_answers_the_record_with_its_defaults(api):
    made = (
        await api.call(
            "create",
            "authors",
            values={
                "name": "Ann",
                "age": "41",
                "rating": 4,
                "born": "1983-02-03",
                "profile": {"city": "Oslo", "n": [1]},
                "addresses": [{"name": "Ann", "address": "ann@x.org"}],
                "apiKey": "secret-key",
                "status": "active",
            },
        )
    )["data"]
    assert made["age"] == 41 and made["rating"] == 4.0 and made["born"] == "1983-02-03T00:00:00+00:00"
    assert made["profile"] == {"city": "Oslo", "n": [1]} and made["addresses"][0]["address"] == "ann@x.org"
    assert made["active"] is True and made["status"] == "active" and made["joinedAt"].endswith("+00:00")
    assert "apiKey" not in made and isinstance(made["id"], int)
    assert (await api.call("get", "authors", {"filterByTk": made["id"]}))["data"] == {**made, "bio": None}


@pytest.mark.parametrize(
    "values, message, code",
    [
        ({"age": 3}, "field 'name' is required", "BAD_REQUEST"),
        ({"name": ""}, "field 'name' is required", "BAD_REQUEST"),
        ({"name": "A", "nope": 1}, "unknown field 'nope'", "BAD_REQUEST"),
        ({"name": "A", "secret": "x"}, "unknown field 'secret'", "BAD_REQUEST"),
        ({"name": "A", "avatar": "AAAA"}, "unknown field 'avatar'", "BAD_REQUEST"),
        ({"name": "A", "joinedAt": "2020-01-01"}, "field 'joinedAt' is read-only", "BAD_REQUEST"),
        ({"name": "A", "age": "abc"}, "field 'age' is invalid", "BAD_REQUEST"),
        ({"name": "A", "age": 2**40}, "field 'age' is invalid", "BAD_REQUEST"),
        ({"name": "A", "born": "yesterday"}, "field 'born' is invalid", "BAD_REQUEST"),
        ({"name": "A", "active": "maybe"}, "field 'active' is invalid", "BAD_REQUEST"),
        ({"name": "A", "status": "dead"}, "field 'status' must be one of new, active, retired", "BAD_REQUEST"),
        ({"name": "A", "books": []}, "field 'books' is a list of books", "BAD_REQUEST"),
        ({"name": ["A"]}, "field 'name' is invalid", "BAD_REQUEST"),
    ],
)
async def test_create_refuses_bad_values_with_400(api, values, message, code):
    with pytest.raises(BadRequest) as e:
        await api.call("create", "authors", values=values)
    assert message in e.value.message and e.value.code == code and e.value.status == 400
    assert await api.pool.fetchval("SELECT count(*) FROM authors") == 0


async def test_create_duplicates_and_references(api):
    await api.call("create", "authors", values={"name": "A", "email": "a@x.org"})
    with pytest.raises(BadRequest) as e:
        await api.call("create", "authors", values={"name": "B", "email": "a@x.org"})
    assert e.value.code == "DUPLICATE" and e.value.extra == {"field": "email"}
    with pytest.raises(NotFound):  # a publisher that does not exist
        await api.call("create", "authors", values={"name": "C", "publisherId": 999})
    with pytest.raises(NotFound):
        await api.call("create", "authors", values={"name": "C", "publisher": {"id": 999}})
    assert await api.pool.fetchval("SELECT count(*) FROM authors") == 1


# ---------------------------------------------------------------- update


async def test_update_by_id_list_or_filter(api):
    _, authors = await seed_authors(api)
    abe, bea = authors["Abe"]["id"], authors["Bea"]["id"]
    one = await api.call("update", "authors", {"filterByTk": str(abe)}, {"age": 31, "profile": {"a": 1}})
    assert one["data"]["id"] == abe and one["data"]["age"] == 31 and one["data"]["profile"] == {"a": 1}
    many = await api.call("update", "authors", {"filterByTk": [abe, bea]}, {"rating": 2.5})
    assert [r["name"] for r in many["data"]] == ["Abe", "Bea"] and all(r["rating"] == 2.5 for r in many["data"])
    by_filter = await api.call("update", "authors", {"filter": '{"age": {"$gte": 31}}'}, {"active": False})
    assert sorted(r["name"] for r in by_filter["data"]) == ["Abe", "Cleo"]
    single = await api.call("update", "authors", {"filter": {"name": "Dov"}}, {"age": None})
    assert single["data"]["name"] == "Dov" and single["data"]["age"] is None
    none = await api.call("update", "authors", {"filter": {"name": "Zed"}}, {"age": 1})
    assert none == {"data": None}
    same_id = await api.call("update", "authors", {"filterByTk": abe}, {"id": abe, "name": "Abraham"})
    assert same_id["data"]["name"] == "Abraham"


async def test_update_refuses_bad_input_and_changes_nothing(api):
    _, authors = await seed_authors(api)
    abe = authors["Abe"]["id"]
    cases = [
        ({"filterByTk": abe}, {"joinedAt": "2020-01-01"}, "read-only"),
        ({"filterByTk": abe}, {"secret": "x"}, "unknown field 'secret'"),
        ({"filterByTk": abe}, {"nope": 1}, "unknown field 'nope'"),
        ({"filterByTk": abe}, {"age": "old"}, "field 'age' is invalid"),
        ({"filterByTk": abe}, {"status": "gone"}, "must be one of"),
        ({"filterByTk": abe}, {"name": None}, "field 'name' is required"),
        ({"filterByTk": abe}, {"id": abe + 1}, "field 'id' cannot be changed"),
        ({"filterByTk": abe}, {"email": "bea@x.org"}, "already exists"),
        ({}, {"age": 1}, "filterByTk or filter is required"),
        ({"filter": "{}"}, {"age": 1}, "filterByTk or filter is required"),
    ]
    for params, values, message in cases:
        with pytest.raises(BadRequest) as e:
            await api.call("update", "authors", params, values)
        assert message in e.value.message, (values, e.value.message)
    with pytest.raises(NotFound):
        await api.call("update", "authors", {"filterByTk": [abe, abe + 1000]}, {"age": 99})
    row = (await api.call("get", "authors", {"filterByTk": abe}))["data"]
    assert row["age"] == 30 and row["name"] == "Abe" and row["email"] == "abe@x.org"


# ---------------------------------------------------------------- destroy


async def test_destroy_answers_the_count(api):
    _, authors = await seed_authors(api)
    assert await api.call("destroy", "authors", {"filterByTk": authors["Dov"]["id"]}) == {"data": 1}
    assert await api.call("destroy", "authors", {"filter": {"age": 30}}) == {"data": 2}
    # onDelete cascade: Abe's books went with him, Cleo's stay
    assert [r["title"] for r in await api.pool.fetch("SELECT title FROM books ORDER BY title")] == ["Cleo 0", "Cleo 1"]
    assert await api.call("destroy", "authors", {"filter": {"age": 99}}) == {"data": 0}
    for params in ({}, {"filter": {}}, {"filter": ""}, {"filter": {"$and": []}}):
        with pytest.raises(BadRequest) as e:
            await api.call("destroy", "authors", params)
        assert e.value.code == "MISSING_FILTER"
    cleo = authors["Cleo"]["id"]
    with pytest.raises(NotFound):
        await api.call("destroy", "authors", {"filterByTk": [cleo, cleo + 1000]})
    assert await api.pool.fetchval("SELECT count(*) FROM authors") == 1  # nothing deleted
    assert await api.call("destroy", "authors", {"filterByTk": [str(cleo)]}) == {"data": 1}


# ---------------------------------------------------------------- scope


async def test_a_member_cannot_reach_another_members_records(api):
    ann, bob = api.ann, api.bob
    note = (await api.call("create", "notes", values={"title": "Ann's", "ownerId": bob.id}, user=ann))["data"]
    assert note["ownerId"] == ann.id  # the acl default wins over what was sent
    bobs = (await api.call("create", "notes", values={"title": "Bob's"}, user=bob))["data"]
    listed = await api.call("list", "notes", {}, user=bob)
    assert [n["title"] for n in listed["data"]] == ["Bob's"] and listed["meta"]["count"] == 1
    sneaky = await api.call("list", "notes", {"filter": {"$or": [{"id": note["id"]}, {"ownerId": ann.id}]}}, user=bob)
    assert sneaky["data"] == []
    for action, params, values in (
        ("get", {"filterByTk": note["id"]}, None),
        ("update", {"filterByTk": note["id"]}, {"title": "mine"}),
        ("destroy", {"filterByTk": note["id"]}, None),
        ("destroy", {"filterByTk": [note["id"], bobs["id"]]}, None),
    ):
        with pytest.raises(NotFound) as e:
            await api.call(action, "notes", params, values, user=bob)
        with pytest.raises(NotFound) as missing:
            await api.call(action, "notes", {"filterByTk": 10**9}, values, user=bob)
        assert e.value.as_json() == missing.value.as_json()  # no hint that it exists
    assert await api.call("update", "notes", {"filter": {"title": "Ann's"}}, {"body": "x"}, user=bob) == {"data": None}
    assert await api.call("destroy", "notes", {"filter": {"title": {"$includes": "'"}}}, user=bob) == {"data": 1}
    with pytest.raises(BadRequest, match="read-only"):
        await api.call("update", "notes", {"filterByTk": note["id"]}, {"owner": bob.id}, user=ann)
    with pytest.raises(NotFound):  # a parent outside the scope is a parent that does not exist
        await api.call("create", "notes", values={"title": "reply", "parentId": note["id"]}, user=bob)
    reply = (await api.call("create", "notes", values={"title": "re", "parent": note["id"]}, user=ann))["data"]
    got = (await api.call("get", "notes", {"filterByTk": reply["id"], "appends": "parent,owner"}, user=ann))["data"]
    assert got["parent"]["title"] == "Ann's" and got["owner"]["email"] == "ann@x.test"
    assert "passwordHash" not in got["owner"]
    mine = await api.call("list", "notes", {"sort": "id"}, user=ann)
    assert [n["title"] for n in mine["data"]] == ["Ann's", "re"]
    assert (await api.call("list", "notes", {}, user=api.root))["data"] == []  # root's scope is its own
    assert (await api.call("list", "notes", {"paginate": False}))["data"][0]["title"] == "Ann's"  # no user: no scope
