"""The plugin's per-process state: the sync supervisor and the parse pass of one host.

Kept in the host's slot for this plugin (``host.state(PLUGIN)``), so it lives and dies with the
host; ``attach`` is called by ``startup``, ``of`` by whatever needs it afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

from host.errors import HostError

PLUGIN = "email_manager"  # the name in plugin.toml
_KEY = "runtime"


@dataclass
class MailRuntime:
    supervisor: object
    parse_pass: object


def attach(host, runtime: MailRuntime) -> None:
    host.state(PLUGIN)[_KEY] = runtime


def of(host) -> MailRuntime:
    runtime = host.state(PLUGIN).get(_KEY)
    if runtime is None:
        raise HostError("The email manager has not started in this process.", code="MAIL_NOT_STARTED", status=503)
    return runtime
