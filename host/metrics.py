"""Prometheus metrics: the host's registry, the HTTP middleware that counts and times requests,
and the scrape route ``GET /api/metrics``.

One ``CollectorRegistry`` per application, not prometheus_client's global one, so that several
apps in one process (the tests) never register a name twice. Plugins add their own metrics
through two hooks (``host.hookspecs``): ``register_metrics(registry)`` once while the app is
built, ``collect_metrics(host)`` at each scrape for values read then (e.g. from the database).

The scrape answers root's token, or the bearer ``EMAIL_CENTER_METRICS_TOKEN`` for a scraper that
has no user; the route is public to the auth middleware and checks for itself.
"""

from __future__ import annotations

import hmac
import os
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

from host import keys
from host.errors import Forbidden, Unauthorized
from host.hookspecs import hookimpl
from host.rest import public

TOKEN_ENV = "EMAIL_CENTER_METRICS_TOKEN"
UNMATCHED = "unmatched"  # the route label of a request no route matched (never its raw path)


def metrics_token(config) -> str:
    """The scrape token, empty for none. ``host.config`` does not read it yet: until it has a
    ``metrics_token`` field, the environment is read here."""
    return getattr(config, "metrics_token", None) or os.environ.get(TOKEN_ENV, "").strip()


def route_template(request: web.Request) -> str:
    """The matched route's template (``/api/{collection}:{action}``), so that ids and names in
    paths do not make a series each."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


class Metrics:
    """The metrics of one application: its registry and middleware (``Host.metrics``)."""

    def __init__(self, plugins):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "email_center_http_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "email_center_http_request_duration_seconds",
            "Time from a request's arrival to its answer",
            ["method", "route"],
            registry=self.registry,
        )
        plugins.call_sync("register_metrics", registry=self.registry)
        self.middleware = self._middleware()

    def _middleware(self):
        @web.middleware
        async def metrics_middleware(request: web.Request, handler):
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as e:  # redirects and pages' 404s pass the error middleware
                status = e.status
                raise
            finally:
                route = route_template(request)
                self.requests.labels(request.method, route, str(status)).inc()
                self.duration.labels(request.method, route).observe(time.perf_counter() - started)

        return metrics_middleware


@public  # to the auth middleware; the check is below
async def scrape(request: web.Request) -> web.Response:
    token = metrics_token(request.app[keys.CONFIG])
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    by_token = (
        bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    )
    if not by_token:
        user = request[keys.USER]
        if user is None:
            raise Unauthorized("Send root's token or the metrics token: 'Authorization: Bearer <token>'.")
        if not user.is_root:
            raise Forbidden("Only root may read the metrics.")
    host = request.app[keys.HOST]
    families = []
    for answered in await host.plugins.call("collect_metrics", host=host):
        families.extend(answered or ())
    # the text format 0.0.4 unless the scraper asks for OpenMetrics
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(_Scrape(host.metrics.registry, families)), headers={"Content-Type": content_type})


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_routes():
    return [web.get("/api/metrics", scrape, allow_head=False)]


class _Scrape:
    """The registry's metrics and those the plugins read for this scrape, as one collector."""

    def __init__(self, registry: CollectorRegistry, families: list):
        self.registry, self.families = registry, families

    def collect(self):
        yield from self.registry.collect()
        yield from self.families
