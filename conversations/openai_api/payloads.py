"""Reading a `POST /v1/chat/completions` body: pure validation, no I/O. Unknown fields are ignored,
as OpenAI's own clients send many (`n`, `top_p`, `user`, ...) that Parley has no use for."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import invalid

ROLES = ("system", "user", "assistant", "developer")


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    model: str
    messages: list[dict[str, str]]
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    include_usage: bool = False

    def sampling(self) -> dict[str, float | int]:
        """The sampling options the request sets, to lay over the deployment's."""
        chosen = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        return {name: value for name, value in chosen.items() if value is not None}


def completion_request(body: bytes, *, max_bytes: int) -> CompletionRequest:
    """The request a body asks for, or an OpenAIError 400 naming the bad field."""
    if len(body) > max_bytes:
        raise invalid(f"Request body is larger than {max_bytes} bytes.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise invalid("Request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("Request body must be a JSON object.")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model must be a non-empty string.", "model")
    stream_options = data.get("stream_options")
    stream_options = {} if stream_options is None else stream_options
    if not isinstance(stream_options, dict):
        raise invalid("stream_options must be an object.", "stream_options")
    return CompletionRequest(
        model=model,
        messages=_messages(data.get("messages")),
        temperature=_number(data, "temperature", 0.0, 2.0),
        max_tokens=_max_tokens(data),
        stream=_flag(data, "stream"),
        include_usage=_flag(stream_options, "include_usage"),
    )


def _messages(value) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise invalid("messages must be a non-empty array.", "messages")
    messages = []
    for index, message in enumerate(value):
        param = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise invalid(f"{param} must be an object whose role is one of {', '.join(ROLES)}.", param)
        role = "system" if message["role"] == "developer" else message["role"]
        messages.append({"role": role, "content": _text(message.get("content"), f"{param}.content")})
    if messages[-1]["role"] != "user":
        raise invalid("The last message must come from the user.", "messages")
    return messages


def _text(content, param: str) -> str:
    """A string, or OpenAI's array of content parts of which Parley reads the text ones."""
    if isinstance(content, list):
        if not all(isinstance(part, dict) and part.get("type") == "text" for part in content):
            raise invalid(f"{param} may only hold text parts.", param)
        content = "".join(str(part.get("text", "")) for part in content)
    if not isinstance(content, str):
        raise invalid(f"{param} must be a string.", param)
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(f"{param} must be valid Unicode text.", param) from None
    return content


def _number(data: dict, name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid(f"{name} must be a number from {low} to {high}.", name)
    return float(value)


def _max_tokens(data: dict) -> int | None:
    name = "max_completion_tokens" if data.get("max_tokens") is None else "max_tokens"
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"{name} must be a whole number of at least 1.", name)
    return value


def _flag(data: dict, name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"{name} must be true or false.", name)
    return value
