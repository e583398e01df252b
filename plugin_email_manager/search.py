"""Full-text search over subject, addresses and body (the ``search`` parameter).

``mail_messages.search_vector`` is written by the parse pass (``vector_sql`` in the UPDATE that
stores the decoded bodies): the subject weighs most (A), then names and addresses (B), then the
body (C). Words go in twice where it matters: through the ``english`` configuration (stems:
"meetings" finds "meeting") and through ``simple`` (names, addresses, words of other languages,
stop words kept verbatim). A query is read both ways (``websearch_to_tsquery``: quotes, ``or``,
``-word``) and either reading may match. A message stored but not indexed yet (``search_vector``
NULL) is matched on its subject meanwhile, so new mail is findable at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.api import Params, like_pattern
from host.errors import BadRequest

if TYPE_CHECKING:
    from asyncpg import Connection

MAX_SEARCH = 500  # characters of a query
BODY_CHARS = 30000  # of a body, indexed: keeps a vector (and the GIN entry) bounded
_WORD = re.compile(r"[^\s\"]+")
_TOKEN = re.compile(r'-?"[^"]*"?|\S+')

# the addresses of a message as words: "Ann Lee ann@example.com ann example.com"
_ADDRESSES = """(SELECT string_agg(concat_ws(' ', e ->> 'name', e ->> 'address',
                                         replace(e ->> 'address', '@', ' ')), ' ')
    FROM jsonb_array_elements(
        (CASE WHEN jsonb_typeof({m}.from_addr) = 'object' THEN jsonb_build_array({m}.from_addr) ELSE '[]' END) ||
        (CASE WHEN jsonb_typeof({m}.to_addrs) = 'array' THEN {m}.to_addrs ELSE '[]' END) ||
        (CASE WHEN jsonb_typeof({m}.cc_addrs) = 'array' THEN {m}.cc_addrs ELSE '[]' END) ||
        (CASE WHEN jsonb_typeof({m}.bcc_addrs) = 'array' THEN {m}.bcc_addrs ELSE '[]' END)) e
    WHERE jsonb_typeof(e) = 'object')"""
_BODY = "COALESCE(left({m}.text, %d), regexp_replace(left({m}.html, %d), '<[^>]*>', ' ', 'g'), '')" % (
    BODY_CHARS,
    BODY_CHARS * 2,
)


def account_lexeme(account_id: int) -> str:
    """A lexeme naming the message's account. No parser produces it from text (parsers split at
    spaces, and it holds one), so no query a person types matches it; ``search_condition`` ANDs the
    searcher's account lexemes with the words, and the GIN index then reads only the postings
    of the searcher's own mail: a word common to every mailbox costs one mailbox, not all."""
    return f"account {account_id}"


def vector_sql(m: str = "m", body: str | None = None) -> str:
    """The ``search_vector`` of the row aliased ``m``, as a SQL expression; ``body``: another
    alias whose ``text`` and ``html`` to read instead of ``m``'s (the values an UPDATE sets)."""
    return (
        f"setweight(to_tsvector('english', COALESCE({m}.subject, '')), 'A') || "
        f"setweight(to_tsvector('simple', COALESCE({m}.subject, '')), 'A') || "
        f"setweight(to_tsvector('simple', COALESCE({_ADDRESSES.format(m=m)}, '')), 'B') || "
        f"setweight(to_tsvector('english', {_BODY.format(m=body or m)}), 'C') || "
        f"array_to_tsvector(ARRAY['account ' || {m}.account_id])"
    )


async def index_messages(conn: Connection, ids: list[int]) -> None:
    """(Re)compute the search vector of these messages from their stored bodies (the parse pass
    computes it in its own UPDATE instead)."""
    ids = list(dict.fromkeys(ids))
    if ids:
        await conn.execute(
            f"UPDATE mail_messages m SET search_vector = {vector_sql('m')} WHERE m.id = ANY($1::bigint[])", ids
        )


def read_search(params: dict[str, Any]) -> str | None:
    """The ``search`` parameter: words, or None when absent or blank."""
    raw = params.get("search")
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadRequest("search takes a string of words", field="search")
    raw = raw.strip()
    if len(raw) > MAX_SEARCH:
        raise BadRequest(f"search is longer than {MAX_SEARCH} characters", field="search")
    return raw or None


def tsquery_sql(placeholder: str) -> str:
    """Both readings of a query (english stems, simple words): either may match. A scalar
    subquery, so that it is computed once per statement even in a generic plan (not per row)."""
    return f"(SELECT websearch_to_tsquery('english', {placeholder}) || websearch_to_tsquery('simple', {placeholder}))"


def split_query(search: str) -> tuple[str, list[str]]:
    """(the query without its ``-excluded`` terms, the excluded terms).

    Excluded terms are taken out because the two readings are ORed: "budget -quarterly" read
    as simple words would not see the stem "quarter" of the english reading and let it through.
    An excluded term must be absent in both readings, so it becomes a condition of its own.
    """
    kept, excluded = [], []
    for token in _TOKEN.findall(search):
        if token.startswith("-") and len(token) > 1:
            excluded.append(token[1:])
        else:
            kept.append(token)
    return " ".join(kept), excluded


@dataclass
class Search:
    """A search as SQL on messages aliased ``t``: ``arms`` are disjoint conditions, to be used
    as the arms of a ``UNION ALL`` (indexed messages through the GIN index; messages not yet
    indexed by subject), or ORed with ``condition``. ``rank`` orders by relevance.
    ``scoped[i]``: arm i already reads only the searcher's accounts from the GIN index (their
    account lexemes), so the caller should state its own account condition so that the planner
    cannot AND a btree scan of every message of those accounts into the bitmap (a scan whose
    cost grows with the mailbox; bench/list.py measures it, bench/README.md has the figures).
    ``estimable``: the indexed arm's words as a condition whose query the planner can read (no
    scalar subquery), for ``EXPLAIN`` to estimate how many messages match (its statistics of the
    commonest words), where counting them would read every one; None without words."""

    arms: list[str]
    rank: str
    scoped: list[bool] | None = None
    estimable: str | None = None

    def is_scoped(self, i: int) -> bool:
        return self.scoped is not None and bool(self.scoped) and self.scoped[i]

    @property
    def condition(self) -> str:
        return self.arms[0] if len(self.arms) == 1 else "(" + " OR ".join(self.arms) + ")"


def search_sql(
    search: str, params: Params, alias: str = "t", accounts: list[int] | None = None, found: list[int] | None = None
) -> Search:
    """``search`` on messages aliased ``alias``.

    ``accounts``: the searcher's account ids, when known: the index is then read for those
    accounts only (see ``account_lexeme``). The caller still scopes the rows itself.
    ``found``: ids of messages not decoded yet that the mail server found (``server_search``):
    matches too, by an arm of their own.
    """
    positive, excluded = split_query(search)
    v = f"{alias}.search_vector"
    if accounts is not None and not accounts:
        return Search(["FALSE"], "NULL::real")
    found_arm = f"{alias}.id = ANY ({params.add(found, 'bigint[]')})" if found else None
    absent = ""
    if excluded:
        absent = f" AND NOT COALESCE({v} @@ {tsquery_sql(params.add(' or '.join(excluded), 'text'))}, false)"
    if not positive:
        return Search([f"TRUE{absent}"], "NULL::real")
    placeholder = params.add(positive, "text")
    tsq = tsquery_sql(placeholder)
    match = tsq
    if accounts:
        own = " | ".join(f"'{account_lexeme(int(a))}'" for a in accounts)
        match = (
            f"(SELECT (websearch_to_tsquery('english', {placeholder}) || "
            f"websearch_to_tsquery('simple', {placeholder})) && {params.add(own, 'text')}::tsquery)"
        )
    arms, scoped = [f"{v} @@ {match}{absent}"], [bool(accounts)]
    words = [w.strip('()"') for w in _WORD.findall(positive)]
    words = [w for w in words if w and w.lower() != "or"][:8]
    if words:  # not indexed yet: its subject, meanwhile
        likes = " AND ".join(f"{alias}.subject ILIKE {params.add(like_pattern(w), 'text')}" for w in words)
        arms.append(f"{v} IS NULL AND {likes}")
        scoped.append(False)  # by the partial index of unindexed mail, per account
    if found_arm:
        arms.append(found_arm)
        scoped.append(False)
    plain = f"(websearch_to_tsquery('english', {placeholder}) || websearch_to_tsquery('simple', {placeholder}))"
    return Search(arms, f"ts_rank({v}, {tsq})", scoped, f"{v} @@ {plain}")


def search_condition(
    search: str, params: Params, alias: str = "t", accounts: list[int] | None = None
) -> tuple[str, str]:
    """(condition, rank expression) for messages aliased ``alias`` matching ``search``."""
    found = search_sql(search, params, alias, accounts)
    return found.condition, found.rank
