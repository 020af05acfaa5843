"""Configuration as code: upsert providers and models from a TOML file (docs/llm.md has the format).

The whole file is checked before anything is written, and then written in one transaction, so a
mistake anywhere changes nothing. Only fields that differ are saved, so loading the same file
twice changes nothing (not even `updated_at`). Rows the file does not mention are left alone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from .. import crypto
from ..models import LLMModel, Provider

PROVIDER_KEYS = {"name", "kind", "base_url", "api_key", "api_key_env", "headers"}
MODEL_KEYS = {
    "provider", "name", "label", "context_window", "vision", "tools", "input_per_mtok", "output_per_mtok",
    "enabled", "default", "groups", "position", "allowed_tools",
}  # fmt: skip
MODEL_FIELDS = {"default": "is_default"}  # file key -> model field, where they differ


class ModelsFileError(Exception):
    """The file cannot be loaded; the message lists every problem found, and nothing was written."""


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


def load_models_file(path: str | Path) -> LoadReport:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelsFileError(f"Cannot read {path}: {error.strerror or error}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ModelsFileError(f"{path} is not valid TOML: {error}") from None
    return load_models(data)


def load_models(data: dict[str, Any]) -> LoadReport:
    """Upsert the providers and models of an already-parsed file."""
    providers, models = _checked(data)
    report = LoadReport()
    with transaction.atomic():
        by_name = {name: _upsert_provider(name, fields, report) for name, fields in providers.items()}
        for (provider_name, name), (fields, groups) in models.items():
            provider = by_name.get(provider_name) or Provider.objects.get(name=provider_name)
            _upsert_model(provider, name, fields, groups, report)
    return report


def _checked(data: dict[str, Any]) -> tuple[dict[str, dict], dict[tuple[str, str], tuple[dict, list[str] | None]]]:
    """Every entry validated and converted to model fields; ModelsFileError naming all problems."""
    problems: list[str] = []
    unknown = set(data) - {"providers", "models"}
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    providers: dict[str, dict] = {}
    for index, entry in enumerate(_tables(data, "providers", problems)):
        where = f"providers[{index}]"
        fields = _provider_fields(entry, where, problems)
        if fields is not None:
            if fields["name"] in providers:
                problems.append(f"{where}: provider {fields['name']!r} is listed twice")
            providers[fields["name"]] = fields
    known = set(providers) | set(Provider.objects.filter(name__in=_names(data)).values_list("name", flat=True))
    models: dict[tuple[str, str], tuple[dict, list[str] | None]] = {}
    for index, entry in enumerate(_tables(data, "models", problems)):
        where = f"models[{index}]"
        checked = _model_fields(entry, where, known, problems)
        if checked is not None:
            key = (checked[0].pop("provider"), checked[0]["name"])
            if key in models:
                problems.append(f"{where}: model {key[1]!r} of provider {key[0]!r} is listed twice")
            models[key] = checked
    if sum(1 for fields, _ in models.values() if fields.get("is_default")) > 1:
        problems.append("more than one model has default = true")
    if problems:
        raise ModelsFileError("Nothing was loaded:\n  " + "\n  ".join(problems))
    return providers, models


def _tables(data: dict[str, Any], key: str, problems: list[str]) -> list[dict[str, Any]]:
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        problems.append(f"{key} must be an array of tables ([[{key}]])")
        return []
    return tables


def _names(data: dict[str, Any]) -> list[str]:
    models = data.get("models")
    return [str(m.get("provider")) for m in models if isinstance(m, dict)] if isinstance(models, list) else []


def _provider_fields(entry: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any] | None:
    count = len(problems)
    if unknown := set(entry) - PROVIDER_KEYS:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name, kind = entry.get("name"), entry.get("kind")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: name must be a non-empty string")
    if kind not in Provider.Kind.values:
        problems.append(f"{where}: kind must be one of {', '.join(Provider.Kind.values)}")
    for key in ("base_url", "api_key", "api_key_env"):
        if not isinstance(entry.get(key, ""), str):
            problems.append(f"{where}: {key} must be a string")
    if entry.get("api_key") and entry.get("api_key_env"):
        problems.append(f"{where}: give api_key or api_key_env, not both")
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        problems.append(f"{where}: headers must be a table of strings")
    fields = {
        "name": name,
        "kind": kind,
        "base_url": entry.get("base_url", ""),
        "api_key_env": entry.get("api_key_env", ""),
        "extra_headers": headers,
        "api_key": entry.get("api_key", ""),
    }
    if len(problems) == count:
        _validate(Provider, {k: v for k, v in fields.items() if k != "api_key"}, where, problems, unique=False)
    return fields if len(problems) == count else None


def _model_fields(
    entry: dict[str, Any], where: str, providers: set[str], problems: list[str]
) -> tuple[dict[str, Any], list[str] | None] | None:
    count = len(problems)
    if unknown := set(entry) - MODEL_KEYS:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if entry.get("provider") not in providers:
        problems.append(f"{where}: provider {entry.get('provider')!r} is neither in this file nor in the catalog")
    if not isinstance(entry.get("name"), str) or not entry.get("name"):
        problems.append(f"{where}: name must be a non-empty string")
    fields: dict[str, Any] = {"provider": entry.get("provider"), "name": entry.get("name")}
    for key, kind in (("label", str), ("vision", bool), ("tools", bool), ("enabled", bool), ("default", bool)):
        if key in entry:
            if not isinstance(entry[key], kind):
                problems.append(f"{where}: {key} must be {'a string' if kind is str else 'true or false'}")
            fields[MODEL_FIELDS.get(key, key)] = entry[key]
    for key in ("context_window", "position"):
        if key in entry:
            if isinstance(entry[key], bool) or not isinstance(entry[key], int):
                problems.append(f"{where}: {key} must be a whole number")
            fields[key] = entry[key]
    for key in ("input_per_mtok", "output_per_mtok"):
        if key in entry:
            fields[key] = _price(entry[key], f"{where}: {key}", problems)
    if "allowed_tools" in entry:
        allowed = entry["allowed_tools"]
        if not isinstance(allowed, list) or not all(isinstance(name, str) and name for name in allowed):
            problems.append(f"{where}: allowed_tools must be a list of tool names (or mcp:<server>)")
        fields["allowed_tools"] = allowed
    groups = entry.get("groups")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups)):
        problems.append(f"{where}: groups must be a list of group names")
    if len(problems) == count:
        _validate(LLMModel, {k: v for k, v in fields.items() if k != "provider"}, where, problems, unique=False)
    return (fields, groups) if len(problems) == count else None


def _price(value: Any, where: str, problems: list[str]) -> Decimal | None:
    """USD per million tokens, kept exact: 0.1 in the file is 0.100000, not a float's approximation."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.append(f"{where} must be a number")
        return None
    try:
        price = Decimal(str(value)).quantize(Decimal("0.000001"))
    except InvalidOperation:
        problems.append(f"{where} must be a number")
        return None
    if price < 0 or not price.is_finite():
        problems.append(f"{where} must be zero or more")
    return price


def _validate(model, fields: dict[str, Any], where: str, problems: list[str], *, unique: bool) -> None:
    """Field-level checks of the model (URL shape, lengths), without touching the database."""
    try:
        model(**fields).full_clean(exclude=["provider"], validate_unique=unique, validate_constraints=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            problems.append(f"{where}: {name}: {' '.join(messages)}")


def _upsert_provider(name: str, fields: dict[str, Any], report: LoadReport) -> Provider:
    api_key = fields.pop("api_key")
    provider, created = Provider.objects.get_or_create(name=name, defaults=fields)
    changed = [key for key, value in fields.items() if getattr(provider, key) != value]
    for key in changed:
        setattr(provider, key, fields[key])
    if api_key and (not provider.api_key_encrypted or crypto.decrypt(provider.api_key_encrypted) != api_key):
        provider.set_api_key(api_key)
        changed += ["api_key_encrypted", "api_key_hint"]
    elif not api_key and provider.api_key_encrypted:
        provider.set_api_key("")  # the file names no key: it stores none
        changed += ["api_key_encrypted", "api_key_hint"]
    _record(report, f"provider {name}", created, provider, changed)
    return provider


def _upsert_model(
    provider: Provider, name: str, fields: dict[str, Any], groups: list[str] | None, report: LoadReport
) -> None:
    if fields.get("is_default"):  # one default at a time: the file's takes over
        LLMModel.objects.filter(is_default=True).exclude(provider=provider, name=name).update(is_default=False)
    model, created = LLMModel.objects.get_or_create(provider=provider, name=name, defaults=fields)
    changed = [key for key, value in fields.items() if getattr(model, key) != value]
    for key in changed:
        setattr(model, key, fields[key])
    _record(report, f"model {provider.name}/{name}", created, model, changed)
    if groups is not None:
        wanted = {Group.objects.get_or_create(name=group)[0].id for group in groups}
        if wanted != set(model.allowed_groups.values_list("id", flat=True)):
            model.allowed_groups.set(wanted)
            if not created and f"model {provider.name}/{name}" not in report.updated:
                report.unchanged.remove(f"model {provider.name}/{name}")
                report.updated.append(f"model {provider.name}/{name}")


def _record(report: LoadReport, label: str, created: bool, row, changed: list[str]) -> None:
    if created:
        if changed:
            row.save()
        report.created.append(label)
    elif changed:
        row.save(update_fields=[*changed, "updated_at"])
        report.updated.append(label)
    else:
        report.unchanged.append(label)
