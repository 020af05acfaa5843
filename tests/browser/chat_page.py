"""What the browser tests (and scripts/screenshots) do to and read from the chat page, in one place."""

from __future__ import annotations

import os

from conversations.models import Message

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 820}
PHONE = {"width": 390, "height": 844}
REPLY = ".message[data-role=assistant]"


def launch_chromium(playwright):
    """Debian's Chromium, driven through executable_path: no browser is ever downloaded."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("body.is-ready")


def models_listed(page) -> None:
    """Wait for the page's model list. Reading it fills an empty catalog (catalog/environment.py), so
    a test that ended before that write could have its database flushed under it (a deadlock)."""
    page.wait_for_function("() => document.getElementById('model-picker').options.length > 0")


def words(count: int, stem: str = "w") -> str:
    """Plain words with no markdown in them, so the rendered text equals the stored text."""
    return " ".join(f"{stem}{i:03d}" for i in range(count))


def echo(text: str, **directives: object) -> str:
    """A message the simulator answers with `text`, verbatim."""
    options = " ".join(f"{key}={value}" for key, value in {"echo": 1, "ttft": 0, **directives}.items())
    return f"!sim {options}\n{text}"


def send(page, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def last_reply(page):
    return page.locator(REPLY).last


def reply_text(page, index: int = -1) -> str:
    """The rendered text of a reply (the streaming caret is CSS, not text)."""
    return page.eval_on_selector_all(f"{REPLY} .message-body", "(nodes, i) => nodes.at(i).textContent", index)


def wait_for_text(page, minimum: int = 1, index: int = -1) -> str:
    page.wait_for_function(
        """([selector, minimum, i]) => {
            const nodes = document.querySelectorAll(selector);
            const node = nodes[i < 0 ? nodes.length + i : i];
            return node && node.textContent.length >= minimum;
        }""",
        arg=[f"{REPLY} .message-body", minimum, index],
    )
    return reply_text(page, index)


def wait_for_status(page, *statuses: str, timeout: float = 30_000) -> str:
    page.wait_for_function(
        "([selector, statuses]) => { const n = [...document.querySelectorAll(selector)].at(-1);"
        " return n && statuses.includes(n.dataset.status); }",
        arg=[REPLY, list(statuses)],
        timeout=timeout,
    )
    return last_reply(page).get_attribute("data-status")


def conversation_id(page) -> str:
    page.wait_for_url("**/c/*/")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def saved_reply(conversation: str) -> Message:
    return Message.objects.filter(conversation_id=conversation, role="assistant").order_by("-position").first()


MARKDOWN_SAMPLE = """Here's a quick way to **reverse a string** in Python:

```python
def reverse(text: str) -> str:
    return text[::-1]

print(reverse("parley"))  # yelrap
```

- Slicing with `[::-1]` walks the string backwards.
- It works for lists and tuples too.

| Approach | Speed |
| --- | --- |
| slicing | fastest |
| `reversed()` + `join` | fast |
"""
