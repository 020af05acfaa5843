"""GET /healthz: 200 when the database and the channel layer answer, 503 naming what does not."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse

CHECK_TIMEOUT = 3.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def check_channel_layer() -> None:
    """Publish to a group nobody joins: a Redis round trip that, unlike a fresh channel, subscribes to nothing."""
    await get_channel_layer().group_send("healthz", {"type": "healthz"})


async def run_check(check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except Exception as error:  # any failure is what the endpoint reports
        return f"unreachable: {type(error).__name__}: {error}"[:300]
    return "ok"


async def healthz(request: HttpRequest) -> JsonResponse:
    database, channel_layer = await asyncio.gather(
        run_check(sync_to_async(check_database)), run_check(check_channel_layer)
    )
    checks = {"database": database, "channel_layer": channel_layer}
    healthy = all(result == "ok" for result in checks.values())
    failing = [name for name, result in checks.items() if result != "ok"]
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if healthy else 503)
