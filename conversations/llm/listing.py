"""Ask a provider which models it serves: `/v1/models` (OpenAI-compatible and Anthropic), Ollama's `/api/tags`.

Used rarely (an admin action), so each call uses a client of its own with the provider's network
settings rather than the streaming pool, and works from any event loop.
"""

from __future__ import annotations

from typing import Any

import httpx

from .client import new_http_client
from .errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from .formats.anthropic_messages import API_VERSION
from .http_errors import error_for_status
from .streaming import StreamingProvider

MAX_PAGES = 50  # Anthropic pages its list; a server that never stops paging is cut off here


async def list_models(provider: StreamingProvider) -> list[str]:
    """The upstream names of the provider's models, in the order it lists them."""
    if provider.name == "simulator" and not provider.config.base_url:
        return [provider.default_model]  # the in-process simulator serves exactly this one
    base = (await provider.base_url()).rstrip("/")
    config = provider.config
    headers = _auth_headers(provider.name, config.api_key) | dict(config.headers)
    async with new_http_client(config.limits, config.network) as client:
        if provider.name == "ollama":
            payload = await _get(client, f"{base}/api/tags", headers)
            return [_text(model, "name") for model in _items(payload, "models")]
        if provider.name == "anthropic":
            return await _anthropic_models(client, f"{base}/v1/models", headers)
        return [_text(model, "id") for model in _items(await _get(client, f"{base}/models", headers), "data")]


def _auth_headers(kind: str, api_key: str) -> dict[str, str]:
    if kind == "anthropic":
        return {"anthropic-version": API_VERSION} | ({"x-api-key": api_key} if api_key else {})
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


async def _anthropic_models(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    names: list[str] = []
    params: dict[str, str] = {"limit": "1000"}
    for _ in range(MAX_PAGES):
        payload = await _get(client, url, headers, params)
        names += [_text(model, "id") for model in _items(payload, "data")]
        if not payload.get("has_more") or not payload.get("last_id"):
            break
        params["after_id"] = str(payload["last_id"])
    return names


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> dict[str, Any]:
    try:
        response = await client.get(url, headers=headers, params=params, timeout=client.timeout.connect)
    except httpx.TimeoutException:
        raise UpstreamTimeout(f"no answer from {url} in time") from None
    except httpx.TransportError as error:
        raise UpstreamConnectError(f"cannot reach {url}: {error}") from None
    if not response.is_success:
        raise error_for_status(response.status_code, response.content)
    try:
        payload = response.json()
    except ValueError:
        raise UpstreamProtocolError(f"{url} did not answer with JSON") from None
    if not isinstance(payload, dict):
        raise UpstreamProtocolError(f"{url} did not answer with a JSON object")
    return payload


def _items(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = payload.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UpstreamProtocolError(f"the model list has no {key!r} array")
    return items


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise UpstreamProtocolError(f"a model in the list has no {key!r}")
    return value
