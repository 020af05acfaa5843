"""Attachments on the chat page: paste an image, see its preview, send it, and see it in the thread
with the simulator's description of what it received; pick a document, remove it; see a refusal."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from conversations.models import Upload

from .chat_page import conversation_id, saved_reply, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

USER = ".message[data-role=user]"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 9), (0, 150, 80)).save(out, "PNG")
    return out.getvalue()


PASTE = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  const input = document.getElementById("composer-input");
  input.focus();
  input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def test_a_pasted_image_is_previewed_sent_and_described(page):
    page.evaluate(PASTE, [base64.b64encode(png_bytes()).decode(), "pasted.png"])
    chip = page.locator(".attachment").first
    chip.wait_for()
    page.wait_for_function("() => document.querySelector('.attachment')?.dataset.state === 'done'")
    assert chip.locator(".attachment-preview img").get_attribute("src").startswith("data:image/png;base64,")
    assert chip.locator(".attachment-name").text_content() == "pasted.png"

    send(page, "What colour is this?")
    chat = conversation_id(page)
    assert wait_for_status(page, "complete") == "complete"
    assert page.locator(".attachment").count() == 0  # the tray empties once sent
    upload = Upload.objects.get(message__conversation_id=chat)
    reply = saved_reply(chat)
    assert reply.content == f"I received 1 image: image/png, {upload.size} bytes."
    image = page.locator(f"{USER} .message-image img").last
    image.wait_for()
    assert page.locator(f"{USER} .message-text").last.text_content() == "What colour is this?"
    page.wait_for_function("() => document.querySelector('.message-image img')?.src.includes('/api/uploads/')")
    page.reload()
    page.wait_for_selector("body.is-ready")
    loaded = page.locator(f"{USER} .message-image img").last
    loaded.wait_for()
    page.wait_for_function("() => document.querySelector('.message-image img').naturalWidth === 12")
    assert page.errors == []


def test_a_picked_document_can_be_removed_and_a_refused_file_says_why(page):
    page.set_input_files("#attach-input", files=[{"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Hi"}])
    chip = page.locator(".attachment").first
    page.wait_for_function("() => document.querySelector('.attachment')?.dataset.state === 'done'")
    uploaded = Upload.objects.get()
    with page.expect_response(lambda response: response.request.method == "DELETE") as removed:
        chip.locator(".attachment-remove").click()
    assert removed.value.status == 204 and page.locator(".attachment").count() == 0
    assert not Upload.objects.filter(id=uploaded.id).exists()

    page.set_input_files("#attach-input", files=[{"name": "cat.png", "mimeType": "image/png", "buffer": b"<html>"}])
    page.wait_for_function("() => document.querySelector('.attachment')?.dataset.state === 'failed'")
    assert "not one" in page.locator(".attachment-note").text_content()
    assert page.is_disabled("#send")
    page.locator(".attachment-remove").click()
    page.fill("#composer-input", "now it can go")
    assert page.is_enabled("#send")
    assert page.errors == []
