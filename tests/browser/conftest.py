"""Fixtures for the browser tests: one live daphne (with the built-in simulator), headless Chromium, a logged-in page.

Alice (tests/conftest.py) logs in on the live server with her password: her hash is PBKDF2, which it knows.

The daphne process shares this test's database (the pytest-django test database) and Redis, so rows the
tests create are visible to the server and replies the server saves can be checked through the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conversations.catalog.environment import ensure_catalog
from tests.servers import ServerProcess, free_port, live_env

from .chat_page import CHROMIUM, DESKTOP, launch_chromium, log_in


@pytest.fixture(scope="session")
def live_server_process(django_db_setup, redis_url, tmp_path_factory) -> Iterator[ServerProcess]:
    """One daphne for the whole browser session; its own port is a trusted image host (for the image test)."""
    port = free_port()
    env = live_env(
        REDIS_URL=redis_url,
        PARLEY_TRUSTED_IMAGE_HOSTS=f"http://127.0.0.1:{port}",
        PARLEY_CHECKPOINT_INTERVAL="0.5",
        PARLEY_STALE_AFTER="3",
        SIMULATOR_FIRST_TOKEN_DELAY="0.1",
        PARLEY_TOOLS="conversations.tools.examples.calculate,conversations.tools.examples.current_time",
        PARLEY_MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),  # uploads land here, not in the work tree
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server must stay honest about async safety
    server = ServerProcess(env, port=port).start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_process, transactional_db) -> ServerProcess:
    """The live server, with this test's rows visible to it (transactional, not rolled back).

    The model catalog is filled here first: a page's first model list would otherwise write it
    while the test's flush of the tables runs, and on PostgreSQL the two can lock each other."""
    ensure_catalog()
    if live_server_process.process is None or live_server_process.process.poll() is not None:
        live_server_process.start()
    return live_server_process


@pytest.fixture(autouse=True)
def orm_beside_playwright(monkeypatch) -> None:
    """Playwright's sync API keeps an asyncio loop on this thread, which makes Django refuse the
    (still synchronous, single-threaded) ORM calls these tests make; allow them here only."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")


@pytest.fixture(scope="session")
def browser(django_db_setup) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium).", pytrace=False)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser, server) -> Iterator[Callable[..., object]]:
    """Make browser contexts (color scheme, viewport...) that are closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", DESKTOP)
        options.setdefault("color_scheme", "light")
        context = browser.new_context(base_url=server.http_url, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context, alice, password):
    """A desktop page, logged in as alice, on the empty chat."""
    context = new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    log_in(page, alice.username, password)
    return page
