"""Ports and waiting, shared by the server fixtures."""

from __future__ import annotations

import contextlib
import socket
import time

# Ports this process has handed out. The kernel may give a port back as soon as its probing socket
# is closed, so two calls in a row can answer the same port: one Dovecot config then named it for
# IMAP and LMTP alike ("duplicate listener") and the server did not start.
_given: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and that this process has not handed out before."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


def wait_port(port: int, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")
