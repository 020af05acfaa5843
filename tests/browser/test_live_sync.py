"""The page says when live sync is degraded (Redis down), still shows its own replies, and clears the
banner when Redis is back. Its own daphne and a private redis-server, which the test stops and starts."""

from __future__ import annotations

import pytest

from tests.servers import RedisProcess, ServerProcess, live_env

from .chat_page import echo, log_in, reply_text, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def redis_server(tmp_path):
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def own_server(redis_server, transactional_db):
    env = live_env(REDIS_URL=redis_server.url, SIMULATOR_FIRST_TOKEN_DELAY="0.1")
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = ServerProcess(env).start()
    yield server
    server.stop()


def test_the_page_shows_degraded_live_sync_and_still_gets_its_reply(browser, own_server, redis_server, alice, password):
    context = browser.new_context(base_url=own_server.http_url)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        log_in(page, alice.username, password)
        send(page, echo("first answer"))
        wait_for_status(page, "complete")

        redis_server.stop()
        send(page, echo("answered while Redis is down"))
        page.wait_for_selector('#connection[data-state="degraded"]')
        assert page.text_content("#connection-text") == "Live sync degraded"
        assert page.is_visible("#banner") and "Live sync is down" in page.text_content("#banner-text")
        page.wait_for_function(
            "text => [...document.querySelectorAll('.message[data-role=assistant]')].length === 2"
            " && document.querySelectorAll('.message[data-role=assistant]')[1].dataset.status === 'complete'",
            arg=None,
        )
        assert reply_text(page) == "answered while Redis is down"

        redis_server.start()
        page.wait_for_selector('#connection[data-state="open"]')
        assert page.is_hidden("#banner")
    finally:
        context.close()
