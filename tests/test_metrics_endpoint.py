"""`/metrics`: closed (404) unless a setting opens it; REST latency labelled by route
pattern; Celery task outcomes; rate-limit refusals by limit."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient
from prometheus_client import REGISTRY

from config.celery import app as celery_app
from config.settings.env import env_networks
from conventions import ratelimit
from conventions.errors import RateLimited

TOKEN = "a-scrape-token"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def closed(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_ADDRESSES = []
    return settings


def test_closed_by_default_as_if_there_were_no_such_page(client, closed):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_a_token_opens_it_to_whoever_presents_it(client, closed):
    closed.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    assert b"# TYPE hub_connections gauge" in answer.content


def test_allowed_addresses_open_it_to_those_networks_only(client, closed):
    closed.METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8", "192.168.1.7"]
    assert client.get("/metrics").status_code == 404  # the test client is 127.0.0.1
    closed.METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8", "127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    closed.METRICS_TOKEN = TOKEN  # both set: both needed
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_allowed_addresses_must_be_addresses_or_networks(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_ADDRESSES", "10.0.0.0/8, ::1, 192.168.0.0/16")
    assert env_networks("METRICS_ALLOWED_ADDRESSES") == ["10.0.0.0/8", "::1", "192.168.0.0/16"]
    monkeypatch.setenv("METRICS_ALLOWED_ADDRESSES", "10.0.0.0/8,intranet")
    with pytest.raises(ImproperlyConfigured, match="'intranet'"):
        env_networks("METRICS_ALLOWED_ADDRESSES")


@pytest.mark.django_db
def test_rest_latency_is_labelled_by_the_route_pattern_not_the_path(client):
    route = "api/v1/bookings/<booking_id>"
    labels = {"method": "GET", "route": route, "status": "4xx"}
    before = value("hub_http_request_duration_seconds_count", **labels)
    for booking_id in (11, 12, 13):
        assert client.get(f"/api/v1/bookings/{booking_id}").status_code == 401
    assert value("hub_http_request_duration_seconds_count", **labels) == before + 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "4xx"}
    before = value("hub_http_request_duration_seconds_count", **unmatched)
    assert client.get("/no/such/page").status_code == 404
    assert value("hub_http_request_duration_seconds_count", **unmatched) == before + 1


async def test_async_requests_are_timed_too():
    labels = {"method": "GET", "route": "healthz", "status": "2xx"}
    before = value("hub_http_request_duration_seconds_count", **labels)
    assert (await AsyncClient().get("/healthz")).status_code == 200
    assert value("hub_http_request_duration_seconds_count", **labels) == before + 1


@celery_app.task(name="tests.metrics_works")
def works() -> int:
    return 1


@celery_app.task(name="tests.metrics_fails")
def fails() -> int:
    raise ValueError("on purpose")


def test_celery_task_outcomes_are_counted_by_name():
    succeeded = {"task": "tests.metrics_works", "outcome": "succeeded"}
    failed = {"task": "tests.metrics_fails", "outcome": "failed"}
    before = value("hub_celery_tasks_total", **succeeded), value("hub_celery_tasks_total", **failed)
    assert works.apply().get() == 1
    assert fails.apply().failed()
    after = value("hub_celery_tasks_total", **succeeded), value("hub_celery_tasks_total", **failed)
    assert after == (before[0] + 1, before[1] + 1)


def test_rate_limit_refusals_are_counted_by_limit_not_by_key():
    labels = {"limit": "tests.limit"}
    before = value("hub_rate_limited_total", **labels)
    rate = ratelimit.Rate(per_second=0.001, burst=1)
    for key in ("tests.limit:1", "tests.limit:2:3"):
        ratelimit.take(key, rate)
        with pytest.raises(RateLimited):
            ratelimit.take(key, rate)
    with pytest.raises(RateLimited):
        ratelimit.peek("tests.limit:1", rate)
    assert value("hub_rate_limited_total", **labels) == before + 3
