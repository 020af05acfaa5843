"""Building blocks of the catalog tests: providers and models made the way an admin would."""

from __future__ import annotations

import json
from decimal import Decimal

from django.contrib.auth.models import Group

from conversations.models import LLMModel, Provider


def add_model(
    provider: str = "sim",
    name: str = "sim-a",
    *,
    kind: str = "simulator",
    base_url: str = "",
    groups: tuple[str, ...] = (),
    **fields,
) -> LLMModel:
    """A model (and its provider, if new); `groups` limits it to those groups."""
    owner, _ = Provider.objects.get_or_create(name=provider, defaults={"kind": kind, "base_url": base_url})
    model = LLMModel.objects.create(provider=owner, name=name, label=fields.pop("label", name.upper()), **fields)
    model.allowed_groups.set([Group.objects.get_or_create(name=group)[0] for group in groups])
    return model


def priced(model: LLMModel, input_per_mtok: str, output_per_mtok: str) -> LLMModel:
    model.input_per_mtok, model.output_per_mtok = Decimal(input_per_mtok), Decimal(output_per_mtok)
    model.save()
    return model


def ollama_lines(*texts: str, model: str = "llama-test", prompt_tokens: int = 9, completion_tokens: int = 2) -> bytes:
    """An Ollama /api/chat NDJSON body: the texts, then the done line with its usage."""
    lines = [{"model": model, "message": {"role": "assistant", "content": text}, "done": False} for text in texts]
    done = {"model": model, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}
    lines.append(done | {"prompt_eval_count": prompt_tokens, "eval_count": completion_tokens})
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)
