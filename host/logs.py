"""Logging: the console handler (text or JSON lines), the request id, the access log.

Every request gets an id: the caller's ``X-Request-Id`` when it is a sane token (letters,
digits, ``._:-``, at most 64 characters), else a random one. It is answered as ``X-Request-Id``,
and it is on every log record emitted while the request is handled (a ``ContextVar`` read by
``RequestIdFilter``), so one grep finds what a request did. Work the request starts in the
background (``Host.spawn``) starts without it: a sync worker outlives the request that made it.

One line per request goes to the logger ``email_center.access``: method, path, status, duration
in ms, the user's id when signed in, and the request id.

``EMAIL_CENTER_LOG_FORMAT`` is ``text`` (the default) or ``json`` (one object per line, with the
fields above as keys). The embedded PostgreSQL's chatter (``pgserver``: initdb's and pg_ctl's
output) is moved down to DEBUG: start-up shows what the server did, not how PostgreSQL did it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Mapping

from aiohttp import web

from host import keys
from host.errors import ConfigError
from host.metrics import UNMATCHED, route_template

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
FORMAT_ENV = "EMAIL_CENTER_LOG_FORMAT"
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
HEADER = "X-Request-Id"
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# libraries whose INFO is about their own inner workings: shown with --log-level DEBUG only
CHATTY = ("pgserver",)

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("email_center_request_id", default=None)
access_log = logging.getLogger("email_center.access")

# the attributes every LogRecord has: what is left on a record is an ``extra`` (JSON keys)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def log_format(env: Mapping[str, str]) -> str:
    """``EMAIL_CENTER_LOG_FORMAT``, checked: ``text`` when unset.

    :raises ConfigError: another value (naming the variable and what it must be).
    """
    raw = env.get(FORMAT_ENV, "")
    value = raw.strip().lower() or "text"
    if value not in FORMATS:
        raise ConfigError(f"{FORMAT_ENV} must be one of {', '.join(FORMATS)} (it is {raw!r})")
    return value


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on the record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


class Quieter(logging.Filter):
    """Moves a chatty library's INFO down to DEBUG (its warnings and errors stay as they are)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": None if getattr(record, "request_id", "-") == "-" else record.request_id,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> logging.Handler:
    """Configure the root logger: one console handler (stderr) at ``level`` in ``fmt``.

    The handler has the level too, not only the root logger: a record moved down to DEBUG by
    ``Quieter`` has already passed its logger's level check.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setLevel(level)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        chatty = logging.getLogger(name)
        if not any(isinstance(f, Quieter) for f in chatty.filters):
            chatty.addFilter(Quieter())
    return handler


def detached() -> contextvars.Context:
    """A copy of the current context without the request id: for background work."""
    context = contextvars.copy_context()
    context.run(REQUEST_ID.set, None)
    return context


def request_id_of(request: web.BaseRequest) -> str:
    given = request.headers.get(HEADER, "").strip()
    return given if SANE_ID.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def access_middleware(request: web.Request, handler):
    """The outermost middleware: gives the request its id and logs its one access line."""
    rid = request_id_of(request)
    request[keys.REQUEST_ID] = rid
    token = REQUEST_ID.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:  # redirects, and pages' 404s
        status = e.status
        e.headers.setdefault(HEADER, rid)
        raise
    finally:
        ms = round((time.perf_counter() - started) * 1000, 1)
        user = request.get(keys.USER)
        route = route_template(request)
        access_log.info(
            "%s %s %s %.1fms user=%s",
            request.method,
            request.path,
            status,
            ms,
            user.id if user else "-",
            extra={
                "method": request.method,
                "path": request.path,
                "route": None if route == UNMATCHED else route,
                "status": status,
                "durationMs": ms,
                "userId": user.id if user else None,
            },
        )
        REQUEST_ID.reset(token)


async def _answer_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: also for streamed answers, prepared inside their handler."""
    rid = request.get(keys.REQUEST_ID)
    if rid:
        response.headers.setdefault(HEADER, rid)


def install_access_log(app: web.Application) -> None:
    """Answer every response of ``app`` with its request id (the middleware is listed by
    ``host.app``, first, so that it sees every other middleware's answer)."""
    app.on_response_prepare.append(_answer_request_id)
