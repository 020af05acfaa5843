"""The HTTP path stays async under ASGI: no middleware is adapted to sync (which would make every
request, a whole /v1/ call included, wait in a thread), many non-streaming calls run at once on a
server with a tiny thread pool, and static files are still served, with their headers, in production."""

from __future__ import annotations

import asyncio
import logging

import openai
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.handlers.asgi import ASGIHandler
from django.core.management import call_command
from django.test import AsyncClient

from conversations.llm.simulator.script import MODEL_NAME, markdown_reply
from conversations.tokens import services as tokens
from tests.servers import running_servers

ASGI_THREADS = 2  # the server's default executor; the calls below outnumber it several times over
CALLS = 8 * ASGI_THREADS
SCRIPT = "conversations/js/stream.js"


class SyncOnlyMiddleware:
    """A middleware written the old way, which Django has to run in a thread under ASGI."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


def adapted_middleware(settings, caplog) -> list[str]:
    """What Django reports adapting while it builds an ASGI handler's chain (logged only with DEBUG)."""
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        ASGIHandler()
    return [record.getMessage() for record in caplog.records if "adapted for middleware" in record.getMessage()]


def test_no_middleware_is_adapted_to_sync(settings, caplog):
    assert adapted_middleware(settings, caplog) == []


def test_a_sync_only_middleware_would_be_caught(settings, caplog):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.SyncOnlyMiddleware"]
    adapted = adapted_middleware(settings, caplog)
    assert f"Asynchronous handler adapted for middleware {__name__}.SyncOnlyMiddleware." in adapted


@pytest.mark.integration
@pytest.mark.timeout(180)
@pytest.mark.usefixtures("close_thread_connections")
async def test_more_whole_completions_than_threads_all_finish(transactional_db, redis_url):
    owner = await sync_to_async(get_user_model().objects.create_user)("dora", password="pw-dora-123")
    _, secret = await sync_to_async(tokens.token_create)(owner=owner, name="many")
    environment = {"REDIS_URL": redis_url, "ASGI_THREADS": str(ASGI_THREADS), "PARLEY_MAX_GENERATIONS_PER_USER": "60"}
    with running_servers(1, **environment) as (server,):
        client = openai.AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=secret, max_retries=0, timeout=120)
        prompts = [f"!sim tokens=20 seed={seed} tps=200 ttft=0" for seed in range(CALLS)]
        completions = await asyncio.gather(
            *(
                client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": p}])
                for p in prompts
            )
        )
    assert [c.choices[0].message.content for c in completions] == ["".join(markdown_reply(s, 20)) for s in range(CALLS)]


@pytest.fixture
def production_static(settings, tmp_path):
    """Static files as `collectstatic` leaves them for production: hashed, compressed, in STATIC_ROOT."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings


async def fetch(path: str, **headers: str):
    response = await AsyncClient().get(path, headers=headers)
    body = b"".join([chunk async for chunk in response.streaming_content]) if response.streaming else response.content
    return response, body


async def test_production_serves_hashed_files_forever_and_compressed(production_static):
    hashed = staticfiles_storage.url(SCRIPT)
    assert hashed != f"/static/{SCRIPT}"
    response, body = await fetch(hashed)
    assert response.status_code == 200 and b"export" in body
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response["Content-Type"].startswith("text/javascript")
    assert response["X-Content-Type-Options"] == "nosniff"
    compressed, _ = await fetch(hashed, accept_encoding="gzip")
    assert compressed["Content-Encoding"] == "gzip" and compressed["Vary"] == "Accept-Encoding"


async def test_production_serves_unhashed_names_briefly_cached_and_404s_the_rest(production_static):
    response, body = await fetch(f"/static/{SCRIPT}")
    assert response.status_code == 200 and body
    assert response["Cache-Control"] == "max-age=60, public"
    missing, _ = await fetch("/static/conversations/js/nothing-here.js")
    assert missing.status_code == 404
