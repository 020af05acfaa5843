"""Regenerate docs/screenshots/*.png from realistic conversations (no `!sim` lines in view).

Run through scripts/screenshots: a live daphne with the built-in simulator on a throwaway SQLite
database and the in-memory channel layer, and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
USERNAME, PASSWORD = "ada", "pw-ada-correct-horse"
SIDEBAR_TITLES = [
    "Trip to Lisbon: where to eat",
    "Explain CRDTs like I'm five",
    "SQL window functions",
    "Birthday poem for Sam",
]
QUESTION = "How do I reverse a string in Python?"
FAILED_QUESTION = "Summarise the attached Q3 report in three points."
PARTIAL = """Sure! Here's a summary of the report's main findings:

1. **Revenue grew 12%** year over year, driven by the subscription tier.
2. Churn fell from 4.1% to 3.2% after the onboarding redesign.
3. The"""

logger = logging.getLogger("screenshots")


def set_up_django(workdir: Path) -> None:
    """A fresh SQLite database, shared with the server; the ORM runs beside Playwright's loop (one thread)."""
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'screenshots.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatsite.settings"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def fresh_conversations(owner, failed: bool = False):
    """The sidebar every picture shows, and the finished exchange (plus a failed one when asked)."""
    from conversations.models import Conversation, Message

    from .chat_page import MARKDOWN_SAMPLE

    Conversation.objects.all().delete()
    for title in SIDEBAR_TITLES:
        Conversation.objects.create(owner=owner, title=title)
    chat = Conversation.objects.create(owner=owner, title="Reverse a string in Python")
    Message.objects.create(conversation=chat, position=0, role="user", content=QUESTION)
    Message.objects.create(
        conversation=chat, position=1, role="assistant", content=MARKDOWN_SAMPLE, status="complete", model="simulator"
    )
    if failed:
        chat = Conversation.objects.create(owner=owner, title="Summarise the Q3 report")
        Message.objects.create(conversation=chat, position=0, role="user", content=FAILED_QUESTION)
        Message.objects.create(
            conversation=chat, position=1, role="assistant", content=PARTIAL, status="failed",
            error="The model provider returned an error (HTTP 500). The text so far was kept.",
        )  # fmt: skip
    return chat


def save(page, name: str) -> None:
    page.mouse.move(1, 1)
    page.wait_for_timeout(400)  # let entry animations finish
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    logger.info("wrote %s", SCREENSHOTS / f"{name}.png")


def open_chat(page, chat, status: str = "complete") -> None:
    from .chat_page import REPLY

    page.goto(f"/c/{chat.id}/")
    page.wait_for_selector(f"{REPLY}[data-status={status}]")
    page.wait_for_selector("#connection[data-state=open]")


def take_all(browser, server, owner) -> None:
    from .chat_page import DESKTOP, PHONE, REPLY, log_in, send, wait_for_status

    def new_page(**options):
        options = {"viewport": DESKTOP, "color_scheme": "light", **options}
        context = browser.new_context(base_url=server.http_url, **options)
        context.set_default_timeout(15_000)
        return context.new_page()

    page = new_page()
    page.goto("/accounts/login/")
    page.wait_for_selector("#id_username")
    save(page, "login")

    chat = fresh_conversations(owner)
    log_in(page, USERNAME, PASSWORD)
    page.wait_for_selector(".conv")
    save(page, "empty")
    send(page, "Can you explain how Parley keeps a reply going when my connection drops?")
    page.wait_for_function("s => document.querySelector(s)?.textContent.length > 160", arg=f"{REPLY} .message-body")
    save(page, "streaming")
    page.click("#stop")
    wait_for_status(page, "cancelled")

    chat = fresh_conversations(owner)
    open_chat(page, chat)
    save(page, "finished")

    failed = fresh_conversations(owner, failed=True)
    open_chat(page, failed, status="failed")
    save(page, "error")

    chat = fresh_conversations(owner)
    open_chat(page, chat)
    server.stop()
    try:
        page.wait_for_selector("#connection[data-state=reconnecting]")
        save(page, "reconnecting")
    finally:
        server.start()

    dark = new_page(color_scheme="dark")
    log_in(dark, USERNAME, PASSWORD)
    open_chat(dark, chat)
    save(dark, "dark")

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(phone, USERNAME, PASSWORD)
    open_chat(phone, chat)
    save(phone, "mobile")
    phone.click("#sidebar-open")
    phone.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().x >= 0")
    save(phone, "mobile-sidebar")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="parley-screenshots-") as workdir:
        set_up_django(Path(workdir))
        from django.contrib.auth import get_user_model
        from playwright.sync_api import sync_playwright

        from tests.servers import ServerProcess, live_env

        from .chat_page import CHROMIUM, launch_chromium

        if not Path(CHROMIUM).exists():
            logger.error("%s is missing: install Debian's chromium (apt-get install chromium).", CHROMIUM)
            return 1
        owner = get_user_model().objects.create_user(USERNAME, password=PASSWORD)
        env = live_env(SIMULATOR_FIRST_TOKEN_DELAY="0.1")
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE")  # the server must stay honest about async safety
        server = ServerProcess(env).start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                take_all(browser, server, owner)
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
