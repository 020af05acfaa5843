"""`manage.py load_models FILE` and PARLEY_MODELS_FILE: the documented TOML format, idempotent, all or nothing."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from conversations.generation import load_catalog
from conversations.models import LLMModel, Provider

pytestmark = pytest.mark.db
KEY = "8x7G8VbV-Jm0oNf3Dgqg1QmK6qJxw7mJ2u8jq3G1E1c="

ISSUE_EXAMPLE = """
[[providers]]
name = "local"
kind = "openai"                 # openai | anthropic | ollama | simulator
base_url = "http://127.0.0.1:8080/v1"
api_key_env = "LOCAL_KEY"       # or api_key = "..." (stored encrypted)

[[models]]
provider = "local"
name = "qwen3-8b"               # the upstream model name
label = "Qwen3 8B"
input_per_mtok = 0.10           # USD per million tokens
output_per_mtok = 0.40
vision = false                  # capability flags
tools = true
default = true
"""

STORED_KEY = """
[[providers]]
name = "claude"
kind = "anthropic"
api_key = "sk-ant-secret-0123456789"
headers = { "anthropic-beta" = "x" }

[[models]]
provider = "claude"
name = "claude-3-5-haiku-latest"
label = "Haiku"
context_window = 200000
groups = ["research"]
"""


def load(tmp_path, text: str, name: str = "models.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    out = StringIO()
    call_command("load_models", str(path), stdout=out)
    return out.getvalue()


def rows() -> list[dict]:
    providers = list(Provider.objects.order_by("name").values())
    models = list(LLMModel.objects.order_by("name").values())
    groups = list(LLMModel.allowed_groups.through.objects.order_by("id").values())
    return [*providers, *models, *groups]


def test_the_issue_example_loads_as_written(db, tmp_path):
    load(tmp_path, ISSUE_EXAMPLE)
    model = LLMModel.objects.select_related("provider").get()
    provider = model.provider
    assert (provider.name, provider.kind, provider.base_url) == ("local", "openai", "http://127.0.0.1:8080/v1")
    assert (provider.api_key_env, provider.api_key_encrypted) == ("LOCAL_KEY", "")
    assert (model.name, model.label, model.vision, model.tools, model.is_default, model.enabled) == (
        "qwen3-8b", "Qwen3 8B", False, True, True, True,
    )  # fmt: skip
    assert (model.input_per_mtok, model.output_per_mtok) == (Decimal("0.10"), Decimal("0.40"))


def test_loading_twice_changes_nothing(db, tmp_path, settings):
    settings.PARLEY_ENCRYPTION_KEY = [KEY]
    load(tmp_path, ISSUE_EXAMPLE + STORED_KEY)
    before = rows()
    out = load(tmp_path, ISSUE_EXAMPLE + STORED_KEY)
    assert rows() == before  # not even updated_at or the key's ciphertext moved
    assert "0 created, 0 updated, 4 unchanged" in out


def test_a_changed_file_updates_only_what_changed(db, tmp_path):
    load(tmp_path, ISSUE_EXAMPLE)
    out = load(tmp_path, ISSUE_EXAMPLE.replace("output_per_mtok = 0.40", "output_per_mtok = 0.50"))
    assert "updated model local/qwen3-8b" in out and "1 updated, 1 unchanged" in out
    assert LLMModel.objects.get().output_per_mtok == Decimal("0.5")


def test_a_stored_key_is_encrypted_and_the_groups_are_set(db, tmp_path, settings):
    settings.PARLEY_ENCRYPTION_KEY = [KEY]
    load(tmp_path, STORED_KEY)
    provider = Provider.objects.get()
    assert "sk-ant" not in provider.api_key_encrypted and provider.api_key() == "sk-ant-secret-0123456789"
    assert provider.api_key_hint == "…6789" and provider.extra_headers == {"anthropic-beta": "x"}
    assert [group.name for group in LLMModel.objects.get().allowed_groups.all()] == ["research"]


def test_a_stored_key_without_an_encryption_key_is_refused(db, tmp_path, settings):
    settings.PARLEY_ENCRYPTION_KEY = []
    with pytest.raises(Exception, match="PARLEY_ENCRYPTION_KEY"):
        load(tmp_path, STORED_KEY)
    assert rows() == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (ISSUE_EXAMPLE.replace('kind = "openai"', 'kind = "gpt"'), "kind must be one of"),
        (ISSUE_EXAMPLE.replace('provider = "local"', 'provider = "elsewhere"'), "'elsewhere' is neither"),
        (ISSUE_EXAMPLE.replace("input_per_mtok = 0.10", "input_per_mtok = -1"), "must be zero or more"),
        (ISSUE_EXAMPLE.replace("tools = true", 'tools = "yes"'), "tools must be true or false"),
        (ISSUE_EXAMPLE.replace('label = "Qwen3 8B"', 'labl = "Qwen3 8B"'), "unknown key(s) labl"),
        (ISSUE_EXAMPLE.replace("http://127.0.0.1:8080/v1", "not a url"), "base_url"),
        (ISSUE_EXAMPLE + ISSUE_EXAMPLE.split("[[models]]")[1].join(["[[models]]", ""]).replace("qwen3", "q2"),
         "more than one model has default"),
        ("[[providers]\nname=", "is not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_file_names_the_problem_and_loads_nothing(db, tmp_path, text, problem):
    with pytest.raises(CommandError) as error:
        load(tmp_path, text)
    assert problem in str(error.value)
    assert rows() == []


def test_a_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("load_models", str(tmp_path / "nope.toml"))


def test_the_models_file_is_loaded_at_start_up_instead_of_the_llm_settings(db, tmp_path, settings):
    path = tmp_path / "models.toml"
    path.write_text(ISSUE_EXAMPLE)
    settings.PARLEY_MODELS_FILE = str(path)
    load_catalog()
    load_catalog()
    assert [(m.provider.name, m.name) for m in LLMModel.objects.select_related("provider")] == [("local", "qwen3-8b")]
