"""Fixtures for the browser tests: one live daphne (with the built-in simulator), headless Chromium, a logged-in page.

The daphne process shares this test's database (the pytest-django test database) and Redis, so rows the
tests create are visible to the server and replies the server saves can be checked through the ORM.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from tests.servers import ServerProcess, free_port, live_env

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
USERNAME = "ada"
PASSWORD = "pw-ada-correct-horse"
DESKTOP = {"width": 1280, "height": 820}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def live_server_process(django_db_setup, redis_url) -> Iterator[ServerProcess]:
    """One daphne for the whole browser session; its own port is a trusted image host (for the image test)."""
    port = free_port()
    env = live_env(
        REDIS_URL=redis_url,
        PARLEY_TRUSTED_IMAGE_HOSTS=f"http://127.0.0.1:{port}",
        PARLEY_CHECKPOINT_INTERVAL="0.5",
        PARLEY_STALE_AFTER="3",
        SIMULATOR_FIRST_TOKEN_DELAY="0.1",
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server must stay honest about async safety
    server = ServerProcess(env, port=port).start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_process, transactional_db) -> ServerProcess:
    """The live server, with this test's rows visible to it (transactional, not rolled back)."""
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
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def make_account(username: str = USERNAME, password: str = PASSWORD):
    """A user the live server can log in: hashed with PBKDF2, which the server knows (the test
    process swaps in a fast hasher the server does not have)."""
    user = get_user_model().objects.create_user(username)
    user.password = make_password(password, hasher=PBKDF2PasswordHasher())
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def account(transactional_db):
    return make_account()


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


def log_in(page, username: str = USERNAME, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("body.is-ready")


@pytest.fixture
def page(new_context, account):
    """A desktop page, logged in, on the empty chat."""
    context = new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    log_in(page)
    return page
