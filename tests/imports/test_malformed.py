"""Files that cannot be imported are refused whole, with words saying where and why."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import pytest

from conversations.imports import reading
from conversations.imports.shapes import ImportRejected

CHATGPT = json.loads(Path(__file__).with_name("chatgpt_conversations.json").read_text())
PARLEY = {
    "format": "parley.conversation",
    "version": 1,
    "title": "Sums",
    "active_leaf_id": "b",
    "messages": [
        {"id": "a", "parent_id": None, "role": "user", "content": "6*7?", "created_at": "2026-01-01T10:00:00Z"},
        {"id": "b", "parent_id": "a", "role": "assistant", "content": "42", "created_at": "2026-01-01T10:00:01Z"},
    ],
}


def refused(document_or_bytes, max_bytes: int = 1_000_000) -> ImportRejected:
    data = document_or_bytes if isinstance(document_or_bytes, bytes) else json.dumps(document_or_bytes).encode()
    with pytest.raises(ImportRejected) as caught:
        reading.read_file(data, max_bytes=max_bytes)
    return caught.value


def chatgpt_with(change) -> list:
    document = copy.deepcopy(CHATGPT)
    change(document[0]["mapping"])
    return document


def parley_with(change) -> dict:
    document = copy.deepcopy(PARLEY)
    change(document)
    return document


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_valid_documents_read():
    assert len(reading.read_file(json.dumps(CHATGPT).encode(), max_bytes=10**6)) == 2
    assert len(reading.read_file(json.dumps([PARLEY, PARLEY]).encode(), max_bytes=10**6)) == 2


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[" * 100_000, "too deeply"),
        (b"[]", "holds no conversations"),
        (b'{"messages": []}', "The file is neither a Parley export"),
        (b"42", "The file is neither a Parley export"),
        (
            b'[{"format": "parley.conversation", "version": 1, "messages": []}, 7]',
            "Conversation 2 of the file is neither",
        ),
    ],
)
def test_what_is_not_an_export_is_named(data, words):
    assert words in refused(data).detail


def test_a_file_over_the_limit_is_refused_as_too_large():
    rejected = refused(json.dumps(CHATGPT).encode(), max_bytes=100)
    assert (rejected.status, rejected.code) == (413, "too_large")


def test_a_zip_that_expands_past_the_limit_is_refused_before_it_is_decompressed():
    bomb = zipped({"conversations.json": b" " * 2_000_000})
    assert len(bomb) < 100_000
    rejected = refused(bomb, max_bytes=1_000_000)
    assert rejected.status == 413
    assert "expands to more than 1000000 bytes" in rejected.detail


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"notes.txt": b"hi"}, "neither manifest.json"),
        ({"manifest.json": b'{"format": "other"}'}, "not a Parley export manifest"),
        ({"manifest.json": json.dumps({"format": "parley.export", "conversations": [{"json": "gone.json"}]}).encode()},
         "which is not in the zip"),
        ({"conversations.json": b"{broken"}, "conversations.json is not valid JSON"),
    ],
)  # fmt: skip
def test_zips_without_an_export_are_refused(files, words):
    assert words in refused(zipped(files)).detail


def test_a_truncated_zip_is_refused():
    assert "cannot be read" in refused(zipped({"conversations.json": b"[]"})[:30]).detail


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: m["u2"].update(parent="nowhere"), "names parent nowhere, which is not in the mapping"),
        (lambda m: m["root"].update(parent="a1e"), "a cycle in the mapping"),
        (lambda m: m.update(loop={"id": "loop", "parent": "loop", "message": None}), "a cycle in the mapping"),
        (lambda m: m["u1"]["message"].update(content="hello"), "content must be an object"),
        (lambda m: m["u1"]["message"]["content"].update(parts="hello"), "parts must be a list"),
        (lambda m: m["u1"]["message"]["content"].update(parts=[7]), "a string or an object"),
        (lambda m: m["u1"]["message"].update(author=None), "with an author"),
        (lambda m: m["u1"]["message"].update(create_time="yesterday"), "not an ISO 8601 time"),
        (lambda m: m["u1"]["message"]["content"].update(parts=["nul \x00 here"]), "control character"),
        (lambda m: m["u1"].update(parent=3), "names parent 3"),
        (lambda m: m.update(bad="node"), "node bad must be an object"),
    ],
)
def test_a_broken_chatgpt_mapping_is_refused(change, words):
    rejected = refused(chatgpt_with(change))
    assert words in rejected.detail
    assert rejected.detail.startswith("Conversation 1 ('Lisbon or Porto')")


def test_a_chatgpt_conversation_without_a_mapping_object_is_refused():
    document = copy.deepcopy(CHATGPT)
    document[1]["mapping"] = []
    assert refused(document).detail.startswith("Conversation 2 ('Quick sum'): mapping must be an object")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d.update(messages={}), "messages must be a list"),
        (lambda d: d["messages"][0].update(parent_id="b"), "not listed before it (a missing message, or a cycle)"),
        (lambda d: d["messages"][1].update(parent_id="zz"), "names parent zz"),
        (lambda d: d["messages"][1].update(id="a"), "listed twice"),
        (lambda d: d.update(active_leaf_id="zz"), "active_leaf_id names no message"),
        (lambda d: d["messages"][0].update(role="robot"), "role must be one of"),
        (lambda d: d["messages"][0].update(status="done"), "status must be one of"),
        (lambda d: d["messages"][0].update(content=None), "content must be a string"),
        (lambda d: d["messages"][0].update(content="bell \x07"), "control character"),
        (lambda d: d["messages"][0].update(content="\ud800"), "valid Unicode"),
        (lambda d: d.update(title="a\x00b"), "control character"),
        (lambda d: d.update(system_prompt="x" * 20_001), "longer than 20000"),
        (lambda d: d.update(temperature=3), "temperature must be"),
        (lambda d: d["messages"][1].update(usage={"prompt_tokens": -1}), "whole number"),
        (lambda d: d["messages"][1].update(usage={"cost_usd": "free"}), "cost_usd"),
        (lambda d: d["messages"][1].update(parts=[{"type": "tool_call", "id": "c"}]), "name must be a string"),
        (lambda d: d["messages"][1].update(parts=["text"]), "an object with a type"),
        (lambda d: d["messages"][1].update(created_at="soon"), "not an ISO 8601 time"),
    ],
)
def test_a_broken_parley_document_is_refused(change, words):
    assert words in refused(parley_with(change)).detail


def test_one_bad_conversation_refuses_the_whole_list():
    broken = parley_with(lambda d: d["messages"][1].update(parent_id="zz"))
    assert refused([PARLEY, broken]).detail.startswith("Conversation 2 ('Sums')")
