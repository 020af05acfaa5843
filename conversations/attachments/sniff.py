"""What an uploaded file really is, decided from its bytes and never from its name, and the form
Parley keeps: images decoded and re-encoded without their metadata, documents' text extracted once.

Pure functions over bytes (no storage, no database), so every rule is tested on its own. Limits
guard the decoders: an image's pixel count is checked before it is decoded, and a PDF's streams may
not expand past PARLEY_PDF_MAX_EXPANDED (pypdf's own configuration enforces it).
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from dataclasses import dataclass

import pypdf
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf.errors import LimitReachedError, PdfReadError, PyPdfError

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/png", "WEBP": "image/png"}  # stored as
IMAGE_CLAIMS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".heic", ".tif", ".tiff")
TEXT_SAMPLE = 8192  # bytes looked at to call a file text


class Rejected(Exception):
    """An upload refused: `status` is the HTTP answer, `code` the machine-readable reason."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True, slots=True)
class Prepared:
    kind: str  # "image" or "file"
    content_type: str
    data: bytes  # what is stored: the re-encoded image, or the document as uploaded
    text: str = ""
    text_truncated: bool = False
    width: int | None = None
    height: int | None = None


def prepare(data: bytes, *, name: str, declared_type: str = "") -> Prepared:
    """Accept a file as an image, a PDF or a text document, or raise Rejected saying why."""
    if len(data) > settings.PARLEY_UPLOAD_MAX_BYTES:
        raise Rejected(413, "too_large", f"Files may be at most {settings.PARLEY_UPLOAD_MAX_BYTES} bytes.")
    if not data:
        raise Rejected(400, "empty", "The file is empty.")
    if data.startswith(b"%PDF-"):
        return _pdf(data)
    image = _image(data)
    if image is not None:
        return image
    if declared_type.startswith("image/") or name.lower().endswith(IMAGE_CLAIMS):
        raise Rejected(415, "not_an_image", "This file is named or labelled as an image, but its content is not one.")
    text = _text(data)
    if text is None:
        raise Rejected(415, "unsupported_type", "Only images (PNG, JPEG, GIF, WebP), PDFs and text files are accepted.")
    kept, truncated = _cap(text)
    return Prepared("file", "text/plain", data, kept, truncated)


def clean_name(name: str) -> str:
    """A display name: the last path segment, without control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base[:255] or "file"


def _image(data: bytes) -> Prepared | None:
    """A decoded and re-encoded image, None if the bytes are no image Pillow knows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data))
            if source.format not in IMAGE_FORMATS:
                raise Rejected(415, "unsupported_type", f"{source.format} images are not accepted.")
            width, height = source.size
            if width * height > settings.PARLEY_UPLOAD_MAX_PIXELS:
                raise Rejected(
                    413, "too_many_pixels", f"Images may have at most {settings.PARLEY_UPLOAD_MAX_PIXELS} pixels."
                )
            source.load()
            return _reencoded(source)
    except Rejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt image data
        raise Rejected(422, "unreadable", f"The image could not be read: {error}.") from None


def _reencoded(source: Image.Image) -> Prepared:
    """Pixels only: EXIF (GPS, camera), XMP, ICC and text chunks are dropped with the old file."""
    content_type = IMAGE_FORMATS[source.format]
    image = ImageOps.exif_transpose(source)  # keep what the photo looked like once its EXIF is gone
    out = io.BytesIO()
    if content_type == "image/jpeg":
        image.convert("RGB").save(out, "JPEG", quality=90)
    else:
        image = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    return Prepared("image", content_type, out.getvalue(), width=image.width, height=image.height)


def _pdf(data: bytes) -> Prepared:
    limit = settings.PARLEY_PDF_MAX_EXPANDED
    limits = {
        "zlib_maximum_output_length": limit,
        "lzw_maximum_output_length": limit,
        "run_length_maximum_output_length": limit,
        "brotli_maximum_output_length": limit,
        "jbig2_maximum_output_length": limit,
        "array_based_stream_maximum_output_length": limit,
        "image_maximum_buffer_size": limit,
        "jbig2dec_binary": None,  # never run an external decoder on an upload
    }
    try:
        with pypdf.apply_configuration(**limits):
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise Rejected(
                    422, "encrypted", "This PDF is password-protected; remove the password and upload it again."
                )
            text, truncated = _pdf_text(reader)
    except LimitReachedError:
        raise Rejected(
            422, "expands_too_much", f"This PDF expands to more than {limit} bytes when read, so it was refused."
        ) from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise Rejected(422, "unreadable", f"This PDF could not be read: {error}.") from None
    return Prepared("file", "application/pdf", data, text, truncated)


def _pdf_text(reader: pypdf.PdfReader) -> tuple[str, bool]:
    pages, limit = [], settings.PARLEY_UPLOAD_TEXT_MAX
    total, truncated = 0, len(reader.pages) > settings.PARLEY_PDF_MAX_PAGES
    for page in reader.pages[: settings.PARLEY_PDF_MAX_PAGES]:
        pages.append(page.extract_text() or "")
        total += len(pages[-1])
        if total > limit:
            break
    kept, cut = _cap("\n\n".join(pages).strip())
    return kept, truncated or cut


def _text(data: bytes) -> str | None:
    """UTF-8 text (text, Markdown, CSV, code), or None for anything binary."""
    if b"\x00" in data[:TEXT_SAMPLE]:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    sample = text[:TEXT_SAMPLE]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\n\r\t\f")
    return None if controls > len(sample) // 100 else text


def _cap(text: str) -> tuple[str, bool]:
    limit = settings.PARLEY_UPLOAD_TEXT_MAX
    return (text, False) if len(text) <= limit else (text[:limit], True)
