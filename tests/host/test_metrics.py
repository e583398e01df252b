"""``GET /api/metrics``: who may scrape, and what the HTTP metrics count (the host with the demo
plugin; the email plugin's metrics are tested with its sync, tests/plugin_email_manager)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

ACTION_ROUTE = "/api/{collection}:{action}"


async def scrape(client, token: str | None) -> tuple[int, str, str]:
    """(status, Content-Type, body) of a scrape with this bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.session.get(client.base_url + "/api/metrics", headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly these labels, 0 when it is absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


async def test_root_reads_the_metrics_as_prometheus_text(server):
    status, content_type, text = await scrape(server, server.root_token)
    assert status == 200, text
    assert content_type.startswith("text/plain")
    assert {
        "email_center_http_requests_total",
        "email_center_http_request_duration_seconds_bucket",
        "email_center_http_request_duration_seconds_count",
    } <= names(text)


async def test_without_a_token_the_metrics_answer_401(server):
    status, _, text = await scrape(server, None)
    assert status == 401 and '"UNAUTHORIZED"' in text


async def test_a_member_may_not_read_the_metrics(server):
    status, _, text = await scrape(server, server.alice)
    assert status == 403 and '"FORBIDDEN"' in text


async def test_the_metrics_token_reads_them_and_no_other_token_does(server, monkeypatch):
    monkeypatch.setenv("EMAIL_CENTER_METRICS_TOKEN", "scraper-secret-0123456789")
    status, _, text = await scrape(server, "scraper-secret-0123456789")
    assert status == 200 and "email_center_http_requests_total" in text
    assert (await scrape(server, "scraper-secret-012345678"))[0] == 401
    # the metrics token is not a sign-in: it opens nothing else
    status, _ = await server.api("scraper-secret-0123456789", "demoItems:list", method="GET")
    assert status == 401


async def test_an_action_is_counted_under_its_route_template_not_its_path(server):
    labels = {"method": "GET", "route": ACTION_ROUTE, "status": "200"}
    before = sample((await scrape(server, server.root_token))[2], "email_center_http_requests_total", **labels)
    status, _ = await server.api(server.root_token, "demoItems:list", method="GET")
    assert status == 200
    missing = await server.call("GET", "/api/demoItems:nothingLikeThis", server.root_token)
    assert missing[0] == 404
    text = (await scrape(server, server.root_token))[2]
    assert sample(text, "email_center_http_requests_total", **labels) == before + 1
    assert sample(text, "email_center_http_requests_total", method="GET", route=ACTION_ROUTE, status="404") >= 1
    assert sample(text, "email_center_http_request_duration_seconds_count", method="GET", route=ACTION_ROUTE) >= 2
    assert "demoItems" not in text and "nothingLikeThis" not in text
