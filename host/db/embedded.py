"""The embedded PostgreSQL (``pgserver``) used when no database URL is given.

Its data lives under ``<storage>/pgdata``; it listens on a Unix socket only, and stops when the
server exits.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, storage: Path):
        self.pgdata = Path(storage).resolve() / "pgdata"
        self._server = None

    def start(self) -> str:
        if "XDG_RUNTIME_DIR" not in os.environ:  # platformdirs (used by pgserver) warns without one
            run = self.pgdata.parent / "run"
            run.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(run)
        import pgserver  # imported late: it is only needed without a database URL

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
