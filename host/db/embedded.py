"""The embedded PostgreSQL (``pgserver``) used when no database URL is given.

Its data lives under ``<storage>/pgdata``; it listens on a Unix socket only, and stops when the
server exits. ``pgserver`` is the optional extra ``embedded``: it is imported only when used, and
``require_pgserver`` lets start-up say in one line what to do when it is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from host.errors import ConfigError

log = logging.getLogger(__name__)

MISSING = (
    "no database: set EMAIL_CENTER_DATABASE_URL=postgresql://user:password@host/db or install the "
    "embedded server with pip install 'email-center[embedded]'"
)


def require_pgserver() -> None:
    """:raises ConfigError: ``pgserver`` is not installed, so a database URL is needed.

    It looks the module up without importing it: pgserver fixes its runtime directory at import,
    which ``EmbeddedPostgres.start`` sets first.
    """
    try:
        found = importlib.util.find_spec("pgserver") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(MISSING)


class EmbeddedPostgres:
    def __init__(self, storage: Path):
        self.pgdata = Path(storage).resolve() / "pgdata"
        self._server = None

    def start(self) -> str:
        if "XDG_RUNTIME_DIR" not in os.environ:  # platformdirs (used by pgserver) warns without one
            run = self.pgdata.parent / "run"
            run.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(run)
        try:
            import pgserver  # imported late: the optional extra, only needed without a database URL
        except ImportError as e:
            raise ConfigError(MISSING) from e

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting the embedded PostgreSQL in %s", self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.cleanup()
            finally:
                self._server = None
