"""`/metrics` for Prometheus, REST latency by route, and Celery task outcomes.

The endpoint is closed (404, as if absent) unless METRICS_TOKEN or
METRICS_ALLOWED_ADDRESSES opens it. Under `serve` every process (daphne, Celery)
writes its metrics into one directory (PROMETHEUS_MULTIPROC_DIR), so the answer
of any one process is the sum over all of them.
"""

import hmac
import ipaddress
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from celery.signals import task_failure, task_retry, task_revoked, task_success
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

REQUEST_SECONDS = Histogram(
    "hub_http_request_duration_seconds",
    "HTTP requests answered by Django, by method, route pattern and status class.",
    ["method", "route", "status"],
)
TASKS = Counter(
    "hub_celery_tasks",
    "Celery tasks finished, by task name and outcome (succeeded, failed, retried, revoked).",
    ["task", "outcome"],
)


def metrics(request: HttpRequest) -> HttpResponse:
    """Every process's metrics in Prometheus' text format, to a scraper that may see them."""
    if not scrape_allowed(request):
        raise Http404
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = REGISTRY
    if directory:  # several processes: add up what each wrote
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def scrape_allowed(request: HttpRequest) -> bool:
    """Open only when a setting says so: the right bearer token, an allowed address, or both."""
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_ADDRESSES
    if not token and not networks:
        return False
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return False
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        if not any(address in ipaddress.ip_network(n, strict=False) for n in networks):
            return False
    return True


def _observe(request: HttpRequest, status: int, seconds: float) -> None:
    match = request.resolver_match
    # The pattern, not the path: /api/v1/bookings/<int:booking_id> is one series.
    route = match.route if match is not None else "unmatched"
    REQUEST_SECONDS.labels(request.method or "", route, f"{status // 100}xx").observe(seconds)


class RequestTimer:
    """Time every request Django answers, labelled by its route; sync or async alike."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._timed(request)
        started = time.perf_counter()
        response: HttpResponse = self.get_response(request)
        _observe(request, response.status_code, time.perf_counter() - started)
        return response

    async def _timed(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response: HttpResponse = await self.get_response(request)
        _observe(request, response.status_code, time.perf_counter() - started)
        return response


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender)


@task_success.connect
def _succeeded(sender: Any = None, **kwargs: Any) -> None:
    TASKS.labels(_task_name(sender), "succeeded").inc()


@task_failure.connect
def _failed(sender: Any = None, **kwargs: Any) -> None:
    TASKS.labels(_task_name(sender), "failed").inc()


@task_retry.connect
def _retried(sender: Any = None, **kwargs: Any) -> None:
    TASKS.labels(_task_name(sender), "retried").inc()


@task_revoked.connect
def _revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    TASKS.labels(_task_name(sender), "revoked").inc()
