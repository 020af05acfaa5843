"""Export and import in the browser: the conversation menu downloads the chat, and a file imports."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from conversations.models import Conversation

from .chat_page import conversation_id, echo, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

CHATGPT = Path(__file__).parent.parent / "imports" / "chatgpt_conversations.json"


def download(page, item: str):
    """Open the conversation menu, click one of its items, and return the finished download."""
    page.click("#menu-open")
    with page.expect_download() as info:
        page.click(item)
    return info.value


def test_the_menu_exports_the_open_chat_as_markdown_and_json_and_all_as_a_zip(page):
    send(page, echo("Belém first"))
    wait_for_status(page, "complete")
    chat = conversation_id(page)

    markdown = download(page, "#export-markdown")
    assert markdown.suggested_filename.endswith(f"-{chat[:8]}.md")
    text = Path(markdown.path()).read_text()
    assert "## User" in text and "## Assistant\n\nBelém first" in text

    document = json.loads(Path(download(page, "#export-json").path()).read_text())
    assert document["format"] == "parley.conversation" and document["id"] == chat
    assert [m["role"] for m in document["messages"]] == ["user", "assistant"]
    assert document["active_leaf_id"] == document["messages"][1]["id"]

    archive = download(page, "#export-all")
    assert archive.suggested_filename.startswith("parley-export-")
    with zipfile.ZipFile(io.BytesIO(Path(archive.path()).read_bytes())) as files:
        assert f"conversations/conversation-{chat}.json" in files.namelist()
    assert page.errors == []


def test_any_chat_in_the_sidebar_exports_from_its_own_menu(page, alice, make_conversation):
    chat = make_conversation(alice, title="Not the open one", messages=[("user", "Olá"), ("assistant", "Bom dia")])
    page.reload()
    item = page.locator(f".conv[data-id='{chat.id}']")
    item.hover()
    item.locator(".conv-menu").click()
    with page.expect_download() as info:
        page.get_by_role("menuitem", name="Export as Markdown").click()

    assert info.value.suggested_filename == f"not-the-open-one-{str(chat.id)[:8]}.md"
    assert "## Assistant\n\nBom dia" in Path(info.value.path()).read_text()
    item.hover()
    item.locator(".conv-menu").click()
    with page.expect_download() as info:
        page.get_by_role("menuitem", name="Export as JSON").click()
    assert json.loads(Path(info.value.path()).read_text())["title"] == "Not the open one"
    assert page.errors == []


def test_a_new_chat_offers_export_all_and_import_only(page):
    page.click("#menu-open")
    assert page.locator("#export-json").is_hidden() and page.locator("#export-markdown").is_hidden()
    assert page.locator("#export-all").is_visible() and page.locator("#import-open").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#menu-list").is_hidden()


def test_importing_a_chatgpt_export_lists_its_chats_and_opens_the_branch_shown(page, alice):
    page.click("#menu-open")
    page.click("#import-open")
    page.set_input_files("#import-file", str(CHATGPT))
    page.click("#import-submit")

    page.wait_for_selector(".toast", state="attached")
    assert "Imported 2 chats" in page.text_content(".toast")
    page.locator(".conv-link", has_text="Lisbon or Porto").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.message-body')].some((n) => n.textContent.includes('And it is yellow.'))"
    )
    assert Conversation.objects.filter(owner=alice).count() == 2
    assert page.errors == []


def test_a_malformed_file_is_refused_in_the_dialog_and_nothing_is_imported(page, alice, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"mapping": {"a": {"parent": "gone", "message": null}}}]')
    page.click("#menu-open")
    page.click("#import-open")
    page.set_input_files("#import-file", str(broken))
    page.click("#import-submit")

    page.wait_for_function("() => document.getElementById('import-error').textContent.includes('not in the mapping')")
    assert page.locator("#import-dialog").is_visible()
    assert not Conversation.objects.filter(owner=alice).exists()
