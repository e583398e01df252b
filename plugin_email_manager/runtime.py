"""The plugin's per-process state: the sync supervisor and the parse pass of one host."""
from __future__ import annotations

import weakref
from dataclasses import dataclass

from host.errors import HostError


@dataclass
class MailRuntime:
    supervisor: object
    parse_pass: object


_runtimes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def attach(host, runtime: MailRuntime) -> None:
    _runtimes[host] = runtime


def of(host) -> MailRuntime:
    runtime = _runtimes.get(host)
    if runtime is None:
        raise HostError("The email manager has not started in this process.", code="MAIL_NOT_STARTED", status=503)
    return runtime
