"""Uploads are judged by their bytes, never their names: images re-encoded without metadata,
documents' text extracted once, and everything else refused with a reason."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from conversations.attachments.sniff import Rejected, clean_name, prepare

from .conftest import jpeg_with_gps, pdf, png, zip_bomb_pdf


def test_a_png_renamed_pdf_is_taken_as_the_png_it_is():
    prepared = prepare(png(), name="report.pdf", declared_type="application/pdf")
    assert (prepared.kind, prepared.content_type, prepared.width, prepared.height) == ("image", "image/png", 8, 6)


def test_html_sent_as_an_image_is_refused():
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    with pytest.raises(Rejected) as caught:
        prepare(html, name="cat.png", declared_type="image/png")
    assert (caught.value.status, caught.value.code) == (415, "not_an_image")


def test_an_oversized_file_is_refused(settings):
    settings.PARLEY_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(Rejected) as caught:
        prepare(b"x" * 1001, name="big.txt")
    assert (caught.value.status, caught.value.code) == (413, "too_large")


def test_a_zip_bomb_inside_a_pdf_is_refused(settings):
    settings.PARLEY_PDF_MAX_EXPANDED = 5 * 1024 * 1024
    bomb = zip_bomb_pdf(64 * 1024 * 1024)
    assert len(bomb) < 200_000  # small on the wire...
    with pytest.raises(Rejected) as caught:
        prepare(bomb, name="innocent.pdf")
    assert (caught.value.status, caught.value.code) == (422, "expands_too_much")  # ...refused when read


def test_a_pdf_has_its_text_extracted():
    prepared = prepare(pdf("Quarterly numbers are up"), name="q3.pdf")
    assert (prepared.kind, prepared.content_type) == ("file", "application/pdf")
    assert "Quarterly numbers are up" in prepared.text


def test_a_broken_pdf_is_refused_clearly():
    with pytest.raises(Rejected) as caught:
        prepare(b"%PDF-1.4\nthis is not really a pdf", name="x.pdf")
    assert caught.value.status == 422


def test_image_metadata_is_stripped_and_orientation_kept():
    prepared = prepare(jpeg_with_gps(), name="holiday.jpg")
    assert prepared.content_type == "image/jpeg" and b"SecretCam" not in prepared.data
    image = Image.open(io.BytesIO(prepared.data))
    assert not image.getexif() and image.size == (4, 10)  # the 90-degree orientation applied, then dropped
    text_png = prepare(png(text="GPS 38.7N 9.1W"), name="a.png")
    assert b"GPS 38.7N" not in text_png.data and not Image.open(io.BytesIO(text_png.data)).info.get("Comment")


def test_an_image_with_too_many_pixels_is_refused_before_decoding(settings):
    settings.PARLEY_UPLOAD_MAX_PIXELS = 100
    with pytest.raises(Rejected) as caught:
        prepare(png(20, 20), name="a.png")
    assert (caught.value.status, caught.value.code) == (413, "too_many_pixels")


@pytest.mark.parametrize(
    ("data", "name"),
    [("# Notes\n\n- one\n", "notes.md"), ("a,b\n1,2\n", "t.csv"), ("def f():\n    return 1\n", "x.py")],
)
def test_text_markdown_csv_and_code_are_documents(data, name):
    prepared = prepare(data.encode(), name=name)
    assert (prepared.kind, prepared.content_type, prepared.text) == ("file", "text/plain", data)


def test_binary_that_is_no_known_type_is_refused():
    with pytest.raises(Rejected) as caught:
        prepare(b"PK\x03\x04" + bytes(range(256)) * 4, name="archive.zip")
    assert (caught.value.status, caught.value.code) == (415, "unsupported_type")


def test_long_documents_keep_a_bounded_text_and_say_so(settings):
    settings.PARLEY_UPLOAD_TEXT_MAX = 10
    prepared = prepare(b"0123456789abcdef", name="a.txt")
    assert (prepared.text, prepared.text_truncated) == ("0123456789", True)


def test_names_lose_paths_and_control_characters():
    assert clean_name("../../etc/pass\x00wd") == "passwd"
    assert clean_name("C:\\Users\\me\\photo.png") == "photo.png"
    assert clean_name("") == "file"
