"""Property: the same messages, stored one by one in any order (each in its own transaction,
as the sync and sends store them), end up in the same conversations, when Message-ID,
In-Reply-To and References link them. Tested on the store itself (``assign_threads`` on a real
PostgreSQL): the decisions depend on what earlier batches wrote to mail_thread_ids and
mail_threads, which a pure model would not exercise."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugin_email_manager.test_conversations import T0, mail, mail_template  # noqa: F401 - fixtures

PEOPLE = ["Bob <bob@example.test>", "Carl <carl@example.test>", "Dora <dora@example.test>"]


@st.composite
def linked_messages(draw):
    """2-7 messages; each may answer (In-Reply-To, References) earlier or later ones, or ids that
    never arrive; dates with ties; each its own subject, so only ids can link them."""
    n = draw(st.integers(2, 7))
    ids = [f"<m{i}@x>" for i in range(n)] + ["<gone1@x>", "<gone2@x>"]
    out = []
    for i in range(n):
        refs = draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))
        out.append(
            dict(
                msgid=ids[i] if draw(st.integers(0, 9)) else None,
                irt=draw(st.none() | st.sampled_from(ids)),
                refs=refs,
                subject=f"Re: topic {i}",
                frm=draw(st.sampled_from(PEOPLE)),
                to=["Alice <alice@example.test>"],
                date=T0 + timedelta(days=draw(st.sampled_from([0, 0, 1, 20, 45]))),
            )
        )
    return out


def components(messages) -> set[frozenset[int]]:
    """What the docstring of ``conversations`` promises: messages sharing any id (own or
    referenced, found or not) are in one conversation, transitively."""
    parent = list(range(len(messages)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, m in enumerate(messages):
        for k in {m["msgid"], m["irt"], *m["refs"]} - {None}:
            if k in owner:
                parent[find(i)] = find(owner[k])
            else:
                owner[k] = i
    groups: dict[int, set[int]] = {}
    for i in range(len(messages)):
        groups.setdefault(find(i), set()).add(i)
    return {frozenset(g) for g in groups.values()}


async def partition(mail, messages, order) -> set[frozenset[int]]:
    user = await mail.user(f"alice{id(order)}-{len(mail.folders)}@example.test")
    acc = await mail.account(user, "alice@example.test")
    stored = {}
    for i in order:
        (stored[i],) = await mail.store(acc, messages[i])
    threads: dict[int, set[int]] = {}
    for i, mid in stored.items():
        threads.setdefault(await mail.thread(mid), set()).add(i)
    return {frozenset(g) for g in threads.values()}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=linked_messages(), data=st.data())
async def test_linked_messages_make_the_same_conversations_in_any_order(mail, messages, data):
    order = data.draw(st.permutations(range(len(messages))), label="arrival order")
    assert await partition(mail, messages, order) == components(messages)
