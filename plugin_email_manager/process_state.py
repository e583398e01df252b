"""The plugin's per-process state (``process_state``): the sync supervisor and the parse pass of one host.

Kept in the host's slot for this plugin (``host.state(PLUGIN)``), so it lives and dies with the
host; ``attach`` is called by ``startup``, ``of`` by whatever needs it afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from host.errors import HostError

if TYPE_CHECKING:  # for annotations only: the sync engine imports this module's users
    from host.api import Host
    from plugin_email_manager.mailsync.parsepass import ParsePass
    from plugin_email_manager.mailsync.supervisor import Supervisor

PLUGIN = "email_manager"  # the name in plugin.toml
_KEY = "runtime"


@dataclass
class MailRuntime:
    supervisor: "Supervisor"
    parse_pass: "ParsePass"


def attach(host: "Host", runtime: MailRuntime) -> None:
    host.state(PLUGIN)[_KEY] = runtime


def of(host: "Host") -> MailRuntime:
    runtime = host.state(PLUGIN).get(_KEY)
    if runtime is None:
        raise HostError("The email manager has not started in this process.", code="MAIL_NOT_STARTED", status=503)
    return runtime
