"""``email-center``: the command line. ``email-center serve`` runs the server.

Everything that can be checked without the database is checked before it starts (the
environment, the plugin settings, the secret key, a way to get a database): a bad value ends
the command with one line naming it and exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from aiohttp import web

from host.config import Config
from host.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
    print(f"Email center on {config.base_url}/admin (database: "
          f"{'embedded, under ' + str(config.storage) if not config.database_url else 'EMAIL_CENTER_DATABASE_URL'})",
          flush=True)
    try:
        web.run_app(app, host=config.host, port=config.port, print=None, access_log=None,
                    shutdown_timeout=10)
    except ConfigError as e:
        return _cannot_start(e)
    return 0


def _cannot_start(e: ConfigError) -> int:
    print(f"email-center: cannot start: {e}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="email-center", description="The email center server.")
    parser.add_argument("--log-level", default=os.environ.get("EMAIL_CENTER_LOG_LEVEL", "INFO"),
                        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (or EMAIL_CENTER_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 13000)")
    args = parser.parse_args(argv)
    level = args.log_level.strip().upper()
    if level not in LOG_LEVELS:
        return _cannot_start(ConfigError(f"the log level (EMAIL_CENTER_LOG_LEVEL or --log-level) must be one of "
                                         f"{', '.join(LOG_LEVELS)} (it is {args.log_level!r})"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
