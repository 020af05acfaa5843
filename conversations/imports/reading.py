"""A file handed to `POST /api/imports/`, read into conversations: which format, and within which bounds.

Accepted (docs/export.md): one Parley conversation document or a JSON list of them; Parley's
"export all" zip; ChatGPT's `conversations.json` (a list, or one conversation) or the zip ChatGPT
sends, which holds it. A zip may expand to no more than the file size limit, so a small bomb is
refused before it is decompressed.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from typing import Any

from ..exports import ARCHIVE_FORMAT
from . import chatgpt, parley
from .shapes import ImportedConversation, ImportRejected

CHATGPT_FILE = "conversations.json"
MANIFEST = "manifest.json"
ZIP_MAGIC = b"PK\x03\x04"


def read_file(data: bytes, *, max_bytes: int) -> list[ImportedConversation]:
    """The file's conversations, or ImportRejected saying what is wrong with it."""
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    if data.startswith(ZIP_MAGIC):
        return read_zip(data, max_bytes)
    return read_documents(decode(data, "The file"), "The file")


def too_large(max_bytes: int) -> ImportRejected:
    return ImportRejected(
        f"The file is larger than {max_bytes} bytes, the most an import may hold.", status=413, code="too_large"
    )


def decode(data: bytes, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportRejected(f"{what} is not UTF-8 text: send a JSON or zip export.") from None
    except RecursionError:
        raise ImportRejected(f"{what} nests its JSON too deeply.") from None
    except ValueError as error:
        raise ImportRejected(f"{what} is not valid JSON ({error}).") from None


def read_documents(document: Any, what: str) -> list[ImportedConversation]:
    """One conversation, or a list of them, in Parley's format or ChatGPT's."""
    items = document if isinstance(document, list) else [document]
    if not items:
        raise ImportRejected(f"{what} holds no conversations.")
    conversations = []
    for number, item in enumerate(items, start=1):
        where = f"Conversation {number}" if isinstance(document, list) else "The conversation"
        if parley.is_parley(item):
            conversations.append(parley.read_conversation(item, where))
        elif chatgpt.is_chatgpt(item):
            conversations.append(chatgpt.read_conversation(item, where))
        else:
            subject = f"{where} of {what[:1].lower()}{what[1:]}" if isinstance(document, list) else what
            raise ImportRejected(
                f"{subject} is neither a Parley export (format {parley.FORMAT!r}) nor a ChatGPT conversation "
                "(an object with a mapping)."
            )
    return conversations


def read_zip(data: bytes, max_bytes: int) -> list[ImportedConversation]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        if sum(member.file_size for member in archive.infolist()) > max_bytes:
            raise ImportRejected(
                f"The zip expands to more than {max_bytes} bytes, the most an import may hold.",
                status=413,
                code="too_large",
            )
        names = set(archive.namelist())
        if CHATGPT_FILE in names:
            return read_documents(decode(archive.read(CHATGPT_FILE), CHATGPT_FILE), CHATGPT_FILE)
        if MANIFEST in names:
            return read_archive(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as error:
        raise ImportRejected(f"The zip cannot be read ({error}).") from None
    raise ImportRejected(f"The zip holds neither {MANIFEST} (a Parley export) nor {CHATGPT_FILE} (a ChatGPT export).")


def read_archive(archive: zipfile.ZipFile) -> list[ImportedConversation]:
    """Parley's "export all": the manifest lists each conversation's JSON file."""
    manifest = decode(archive.read(MANIFEST), MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ImportRejected(f"{MANIFEST} is not a Parley export manifest (format {ARCHIVE_FORMAT!r}).")
    listed = manifest.get("conversations")
    if not isinstance(listed, list) or not all(isinstance(entry, dict) for entry in listed):
        raise ImportRejected(f"{MANIFEST}: conversations must be a list of objects.")
    conversations = []
    for entry in listed:
        name = entry.get("json")
        if not isinstance(name, str) or name not in archive.namelist():
            raise ImportRejected(f"{MANIFEST} lists {name!r}, which is not in the zip.")
        conversations.extend(read_documents(decode(archive.read(name), name), name))
    if not conversations:
        raise ImportRejected("The zip holds no conversations.")
    return conversations
