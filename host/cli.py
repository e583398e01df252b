"""``email-center``: the command line. ``email-center serve`` runs the server."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from aiohttp import web

from host.config import Config
from host.errors import ConfigError


def _serve(args: argparse.Namespace) -> int:
    config = Config.from_environment(host=args.host, port=args.port)
    from host.app import create_app  # after logging is set up

    try:
        app = create_app(config)
    except ConfigError as e:
        print(f"email-center: cannot start: {e}", file=sys.stderr)
        return 2
    print(f"Email center on {config.base_url}/admin (database: "
          f"{'embedded, under ' + str(config.storage) if not config.database_url else 'EMAIL_CENTER_DATABASE_URL'})",
          flush=True)
    try:
        web.run_app(app, host=config.host, port=config.port, print=None, access_log=None,
                    shutdown_timeout=10)
    except ConfigError as e:
        print(f"email-center: cannot start: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="email-center", description="The email center server.")
    parser.add_argument("--log-level", default=os.environ.get("EMAIL_CENTER_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 13000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
