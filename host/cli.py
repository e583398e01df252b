"""``email-center``: the command line.

    email-center serve [--host H] [--port P]     run the server
    email-center migrate                         bring the database up to date, say what ran
    email-center create-user EMAIL [--root] [--nickname N] [--password-stdin]
    email-center reset-password EMAIL [--password-stdin]
    email-center --version

Everything that can be checked without the database is checked before it starts (the
environment, the log level and format, the plugin settings, the secret key, a way to get a
database): a bad value ends the command with one line naming it and exit status 2. A refused
user command (a weak password, a duplicate, no such user) is one line and exit status 1.

The commands other than ``serve`` use the configured database (``EMAIL_CENTER_DATABASE_URL``,
else the embedded one under ``EMAIL_CENTER_STORAGE``) and the host's own functions: the same
migrations, the same checks and hashing as ``users:create``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from importlib import metadata
from pathlib import Path

from aiohttp import web

from host import logs
from host.config import Config
from host.errors import ConfigError, HostError

PACKAGE = "email-center"


def version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _serve(args: argparse.Namespace) -> int:
    from host.app import create_app
    from host.db.embedded import require_pgserver

    try:
        config = Config.from_environment(host=args.host, port=args.port)
        if not config.database_url:
            require_pgserver()
        app = create_app(config)
    except ConfigError as e:
        return _cannot_start(e)
    print(
        f"Email center on {config.base_url}/admin (database: "
        f"{'embedded, under ' + str(config.storage) if not config.database_url else 'EMAIL_CENTER_DATABASE_URL'})",
        flush=True,
    )
    try:
        web.run_app(app, host=config.host, port=config.port, print=None, access_log=None, shutdown_timeout=10)
    except ConfigError as e:
        return _cannot_start(e)
    return 0


def _cannot_start(e: ConfigError) -> int:
    print(f"email-center: cannot start: {e}", file=sys.stderr)
    return 2


def _refused(message: str) -> int:
    print(f"email-center: {message}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------- the database commands


def _schema(config: Config):
    """The collections and the plugins' migrations, found as ``create_app`` finds them."""
    from host.plugins import DEFAULT_PLUGINS, Plugins, discover
    from host.schema import load_registry

    plugins = Plugins(discover(config.plugin_manifests, config.entry_points), defaults=DEFAULT_PLUGINS)
    files = [Path(p) for p in plugins.call_sync("register_collections")] + plugins.collection_files()
    return load_registry(files), plugins.call_sync("register_migrations")


@contextlib.asynccontextmanager
async def _database(config: Config):
    """A connection to the configured database, migrated (as ``serve`` does at start); yields
    it and the lines of what the migrations did."""
    from host.db.embedded import EmbeddedPostgres
    from host.db.migrate import migrate
    from host.db.pool import connect

    registry, migrations = _schema(config)
    embedded = None
    dsn = config.database_url
    if not dsn:
        embedded = EmbeddedPostgres(config.storage)
        dsn = embedded.start()
    try:
        try:
            conn = await connect(dsn)
        except Exception as e:
            raise ConfigError(f"cannot connect to the database: {e}") from e
        try:
            yield conn, await migrate(conn, registry, migrations)
        finally:
            await conn.close()
    finally:
        if embedded:
            embedded.stop()


def _config() -> Config:
    from host.db.embedded import require_pgserver

    config = Config.from_environment()
    if not config.database_url:
        require_pgserver()
    return config


async def _migrate(config: Config) -> int:
    async with _database(config) as (_conn, done):
        for line in done:
            print(line)
        print(f"{len(done)} change{'s' if len(done) != 1 else ''} applied" if done else "The database is up to date.")
    return 0


async def _create_user(config: Config, args: argparse.Namespace, password: str) -> int:
    from host.auth import add_user

    async with _database(config) as (conn, _done):
        row = await add_user(conn, args.email, password, nickname=args.nickname, role="root" if args.root else "member")
    print(f"User {row['email']} created ({row['role']}, id {row['id']}).")
    return 0


async def _reset_password(config: Config, args: argparse.Namespace, password: str) -> int:
    from host.auth import reset_password

    async with _database(config) as (conn, _done):
        await reset_password(conn, args.email, password)
    print(f"The password of {args.email.strip().lower()} was changed; its tokens are revoked.")
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    """One line from stdin with ``--password-stdin``, else asked twice at the terminal; None
    when the two typed do not match."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        return None
    return first


def _run_with_database(args: argparse.Namespace) -> int:
    try:
        config = _config()
    except ConfigError as e:
        return _cannot_start(e)
    password = None
    if args.command in ("create-user", "reset-password"):
        try:
            password = _read_password(args)
        except (EOFError, KeyboardInterrupt):
            return _refused("no password given")
        if password is None:
            return _refused("the two passwords differ")
    try:
        if args.command == "migrate":
            return asyncio.run(_migrate(config))
        if args.command == "create-user":
            return asyncio.run(_create_user(config, args, password))
        return asyncio.run(_reset_password(config, args, password))
    except ConfigError as e:
        return _cannot_start(e)
    except HostError as e:  # the same refusals as the API's: weak password, duplicate, no such user
        return _refused(e.message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="email-center", description="The email center server.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("EMAIL_CENTER_LOG_LEVEL"),
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (or EMAIL_CENTER_LOG_LEVEL; "
        "default INFO for serve, WARNING for the other commands)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 13000)")
    sub.add_parser("migrate", help="run the database migrations (serve runs them at start too)")
    create = sub.add_parser("create-user", help="add a user (a member, or root with --root)")
    create.add_argument("email")
    create.add_argument("--root", action="store_true", help="an administrator rather than a member")
    create.add_argument("--nickname", default=None, help="the name shown (default: the part before @)")
    reset = sub.add_parser(
        "reset-password", help="set a user's password, revoke its tokens and clear its failed sign-ins"
    )
    reset.add_argument("email")
    for command in (create, reset):
        command.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin instead of asking",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    raw_level = (
        args.log_level
        if args.log_level and args.log_level.strip()
        else ("INFO" if args.command == "serve" else "WARNING")
    )
    level = raw_level.strip().upper()
    try:
        if level not in logs.LEVELS:
            raise ConfigError(
                f"the log level (EMAIL_CENTER_LOG_LEVEL or --log-level) must be one of "
                f"{', '.join(logs.LEVELS)} (it is {raw_level!r})"
            )
        fmt = logs.log_format(os.environ)
    except ConfigError as e:
        return _cannot_start(e)
    logs.setup(level, fmt)
    if args.command == "serve":
        return _serve(args)
    return _run_with_database(args)


if __name__ == "__main__":
    sys.exit(main())
