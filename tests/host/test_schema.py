"""Collection files -> Collection objects: the real files load, bad ones stop start-up clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.api import User
from host.errors import ConfigError
from host.schema import load_collection, load_registry, snake_case

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "collections"
TEST = Path(__file__).resolve().parent / "collections"
ANN = User(id=7, email="ann@example.test", role="member")
ROOTUSER = User(id=1, email="root@example.test", role="root")


@pytest.fixture(scope="module")
def registry():
    return load_registry([REAL, TEST])


def test_every_real_collection_file_loads(registry):
    names = {p.stem for p in REAL.glob("*.toml")}
    assert names and names <= set(registry)
    for name in names:
        c = registry[name]
        # what the API serves is keyed by "id"; an internal table may key by its natural name
        assert c.primary_key.name == "id" or c.internal
        assert c.source.endswith(f"{name}.toml")


def test_names_tables_and_columns(registry):
    m = registry["mailMessages"]
    assert m.table == "mail_messages"
    assert m.default_sort == ["-date", "-id"]
    assert m.fields["from"].column == "from_addr"
    assert m.fields["threadId"].column == "thread_id"
    assert m.fields["to"].shape == "list"
    assert m.fields["text"].list_default is False
    assert registry["users"].default_sort == ["id"]
    assert registry["hostJobs"].primary_key.name == "name"
    assert snake_case("uidValidity") == "uid_validity"


def test_flags_decide_what_is_answered(registry):
    m = registry["mailMessages"]
    assert m.fields["subject"].answered and m.fields["subject"].read_only
    assert not m.fields["raw"].answered  # binary, hidden
    assert not m.fields["pendingFlags"].answered  # hidden
    assert not m.fields["account"].answered  # a relation is appended, not answered
    s = registry["mailSettings"].fields["clientSecret"]
    assert s.write_only and not s.answered and s.settable


def test_acl_roles_scope_and_defaults(registry):
    users, acc, tokens = registry["users"], registry["mailAccounts"], registry["authTokens"]
    assert users.acl.allows("root", "destroy") and users.acl.allows("member", "list")
    assert not users.acl.allows("member", "create")
    assert not users.acl.allows("guest", "list")
    assert not tokens.acl.allows("root", "list")  # internal: nobody
    assert not registry["mailSettings"].acl.allows("member", "list")
    assert users.acl.scope_filter(ANN) == {"id": 7}
    assert users.acl.scope_filter(ROOTUSER) is None
    assert acc.acl.scope_filter(ANN) == {"userId": 7}
    assert acc.acl.scope_filter(ROOTUSER) == {"userId": 1}
    assert registry["mailMessages"].scope_filter(ANN) == {"account.userId": 7}
    assert acc.acl.defaults_for(ANN) == {"userId": 7}
    assert acc.acl.scope_filter(None) is None


def test_describe_leaves_hidden_fields_out(registry):
    d = registry["mailMessages"].describe()
    assert d["name"] == "mailMessages" and d["title"] == "Mail messages"
    by = {f["name"]: f for f in d["fields"]}
    assert "raw" not in by and "pendingFlags" not in by and "modseq" not in by
    assert by["account"] == {
        "name": "account",
        "type": "belongsTo",
        "interface": "m2o",
        "target": "mailAccounts",
        "foreignKey": "accountId",
    }
    assert by["attachments"]["interface"] == "o2m"
    assert by["type"]["interface"] == "select" and "inbox" in by["type"]["enum"]
    assert by["date"]["interface"] == "datetime"
    assert by["read"]["interface"] == "checkbox"
    assert by["subject"]["interface"] == "textarea"
    settings = {f["name"]: f for f in registry["mailSettings"].describe()["fields"]}
    assert settings["clientSecret"].get("writeOnly") is True


GOOD = """
name = "things"
[[fields]]
name = "id"
type = "bigInt"
primaryKey = true
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, problem",
    [
        ('name = "things"\n[[fields]\n', "bad TOML"),
        (GOOD + '[[fields]]\nname = "x"\ntype = "money"\n', "unknown type 'money'"),
        (GOOD + '[[fields]]\nname = "x"\ntype = "string"\nsecretive = true\n', "unknown flag 'secretive'"),
        (GOOD + '[[fields]]\nname = "x"\ntype = "string"\nunique = "yes"\n', "unique must be true or false"),
        (GOOD + '[[fields]]\nname = "id"\ntype = "string"\n', "field 'id' is declared twice"),
        ('name = "things"\n[[fields]]\nname = "x"\ntype = "string"\n', "exactly one primaryKey"),
        (GOOD + '[[fields]]\nname = "kind"\ntype = "string"\nenum = ["a"]\ndefault = "b"\n', "not in its enum"),
        (GOOD + '[[fields]]\nname = "n"\ntype = "integer"\ndefault = "zero"\n', "does not fit type integer"),
        ('colour = "red"\n' + GOOD, "unknown key(s) colour"),
        ('name = "Things"\n' + GOOD.split("\n", 2)[2], "not camelCase"),
        ('sort = ["-nothing"]\n' + GOOD, "sort: '-nothing' is not a field"),
        (GOOD + '[[fields]]\nname = "owner"\ntype = "belongsTo"\ntarget = "users"\n', "needs target and foreignKey"),
        (GOOD + '[acl]\nmember = "list"\n', "must be a list of action names"),
        (GOOD + '[acl.scope]\n"*" = { id = "{{$user.age}}" }\n', "unknown template"),
        (GOOD + "[acl.defaults]\nnothing = 1\n", "[acl.defaults]: unknown field 'nothing'"),
    ],
)
def test_a_bad_file_names_itself_and_the_problem(tmp_path, text, problem):
    path = write(tmp_path, "things", text)
    with pytest.raises(ConfigError) as e:
        load_collection(path)
    assert str(path) in str(e.value)
    assert problem in str(e.value)


@pytest.mark.parametrize(
    "extra, problem",
    [
        (
            '[[fields]]\nname = "owner"\ntype = "belongsTo"\ntarget = "nobody"\nforeignKey = "ownerId"\n',
            "target collection 'nobody' is unknown",
        ),
        (
            '[[fields]]\nname = "owner"\ntype = "belongsTo"\ntarget = "users"\nforeignKey = "ownerId"\n',
            "foreignKey 'ownerId' is not a field declared in 'things'",
        ),
        (
            '[[fields]]\nname = "notes"\ntype = "hasMany"\ntarget = "users"\nforeignKey = "thingId"\n',
            "foreignKey 'thingId' is not a field declared in 'users'",
        ),
        (
            '[[fields]]\nname = "ownerId"\ntype = "string"\n[[fields]]\nname = "owner"\ntype = "belongsTo"\n'
            'target = "users"\nforeignKey = "ownerId"\n',
            "foreignKey 'ownerId' is string",
        ),
        ('[acl.scope]\n"*" = { "owner.id" = "{{$user.id}}" }\n', "unknown field 'owner'"),
    ],
)
def test_relations_are_checked_across_files(tmp_path, extra, problem):
    path = write(tmp_path, "things", GOOD + extra)
    with pytest.raises(ConfigError) as e:
        load_registry([REAL / "users.toml", path])
    assert str(path) in str(e.value)
    assert problem in str(e.value)


def test_duplicate_collection_names_are_refused(tmp_path):
    a = write(tmp_path, "things", GOOD)
    (tmp_path / "other").mkdir()
    b = write(tmp_path / "other", "things", GOOD)
    with pytest.raises(ConfigError) as e:
        load_registry([a, b])
    assert "'things' is already declared" in str(e.value) and str(a) in str(e.value)


def test_a_folder_loads_its_files_and_scope_may_walk_relations(tmp_path):
    write(
        tmp_path,
        "things",
        GOOD + '[[fields]]\nname = "ownerId"\ntype = "bigInt"\n'
        '[[fields]]\nname = "owner"\ntype = "belongsTo"\ntarget = "users"\nforeignKey = "ownerId"\n'
        '[acl]\nmember = ["*"]\n[acl.scope]\n"*" = { "owner.id" = "{{$user.id}}" }\n',
    )
    reg = load_registry([tmp_path, REAL / "users.toml"])
    things = reg.get("things")
    assert things.table == "things" and things.fields["owner"].on_delete == "set null"
    assert things.acl.allows("member", "anything") and things.scope_filter(ANN) == {"owner.id": 7}
    assert reg.get("nothing") is None and len(reg) == 2


def test_a_field_declares_that_it_holds_email_addresses_or_domains():
    from host.schema import parse_collection

    def people(**extra):
        fields = [{"name": "id", "type": "bigInt", "primaryKey": True}, {"name": "x", "type": "string", **extra}]
        return parse_collection({"name": "people", "fields": fields})

    by = {f["name"]: f for f in people(interface="email").describe()["fields"]}
    assert by["x"]["interface"] == "email" and by["id"]["interface"] == "integer"
    assert {f["name"]: f for f in people(interface="domain").describe()["fields"]}["x"]["interface"] == "domain"
    list_field = {"name": "id", "type": "bigInt", "primaryKey": True}
    emails = {"name": "emails", "type": "json", "shape": "list", "interface": "email"}
    assert parse_collection({"name": "people", "fields": [list_field, emails]}).fields["emails"].interface == "email"
    for bad in ({"interface": "phone"}, {"interface": 3}):
        with pytest.raises(ConfigError, match="interface"):
            people(**bad)
    with pytest.raises(ConfigError, match="interface"):
        parse_collection(
            {"name": "people", "fields": [list_field, {"name": "n", "type": "integer", "interface": "email"}]}
        )


def test_users_email_is_an_email_field_and_mail_manager_a_flag_root_sets():
    users = load_collection(REAL / "users.toml")
    assert users.fields["email"].interface == "email"
    assert users.fields["mailManager"].type == "boolean" and users.fields["mailManager"].default is False
    assert not users.acl.allows("member", "update")
