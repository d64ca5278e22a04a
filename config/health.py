"""Liveness and readiness for load balancers and orchestrators."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)
CHECK_TIMEOUT_SECONDS = 3


async def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving; says nothing of its dependencies."""
    return JsonResponse({"status": "ok"})


def _database_answers() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # A failed probe must not leave a broken connection for the next request.
        if connection.errors_occurred or not connection.is_usable():
            connection.close()


async def _channel_layer_answers() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.probe"})
    await layer.receive(channel)


async def _check(name: str, probe) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not ready", whatever its kind
        logger.warning("readyz: %s is down: %s", name, exc.__class__.__name__)
        return name, "down"
    return name, "ok"


async def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database and the channel layer both answer; 503 otherwise."""
    results = dict(
        await asyncio.gather(
            _check("database", sync_to_async(_database_answers)),
            _check("channel_layer", _channel_layer_answers),
        )
    )
    ready = all(state == "ok" for state in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
