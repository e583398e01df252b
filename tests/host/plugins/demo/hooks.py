"""The demo plugin's hook implementations (used by the host's tests)."""

from __future__ import annotations

from pathlib import Path

from host.api import Action, ActionContext, Badge, Job, UIEntry
from host.hookspecs import hookimpl

HERE = Path(__file__).parent
RUNS: list[str] = []  # jobs run in this process (the test of two processes reads the table)


async def _count(host, user) -> int:
    return await host.db.fetchval("SELECT count(*) FROM demo_items WHERE owner_id = $1 AND NOT done", user.id)


async def touch(ctx: ActionContext) -> dict:
    """A custom action: answers its parameters, so a test sees what the transport passed."""
    return {"data": {"params": ctx.params, "user": ctx.user.id}}


async def tick(host) -> None:
    await host.db.execute("INSERT INTO demo_ticks (process) VALUES ($1)", host.process_id)


@hookimpl
def register_actions():
    return [Action("demoItems", "touch", touch, summary="Echo the parameters")]


@hookimpl
def register_badges():
    return [Badge(name="demo", icon="bell", href="/admin/collections/demoItems", count=_count, title="Open items")]


@hookimpl
def register_jobs():
    return [Job(name="demo-tick", interval=lambda host: host.settings.get("demo_interval"), run=tick)]


@hookimpl
def register_migrations():
    from host.api import Migration

    return [
        Migration(
            "demo",
            1,
            "ticks",
            "CREATE TABLE demo_ticks (id bigserial PRIMARY KEY, "
            "process text, at timestamptz DEFAULT clock_timestamp())",
        )
    ]


@hookimpl
def register_ui():
    return [
        UIEntry(
            plugin="demo",
            path="/admin/demo",
            title="Demo",
            module="/static/plugins/demo/page.js",
            icon="bell",
            static_dir=HERE / "static",
        )
    ]
