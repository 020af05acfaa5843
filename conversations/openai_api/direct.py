"""An unsaved call: the catalog model's provider streams straight into the call, holding one of the
owner's generation slots meanwhile. The client going away cancels it, which closes the upstream
request (the provider's cancel-safe send)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from .. import generation
from ..crypto import SecretUnreadable
from ..llm.base import Options
from ..llm.errors import DeadlineExceeded, LLMError, RateLimited
from ..models import ApiToken, LLMModel
from . import access
from .calls import Call, End, failure, finish_reason
from .payloads import CompletionRequest
from .watch import get_watcher

logger = logging.getLogger(__name__)


async def begin(token: ApiToken, model: LLMModel, request: CompletionRequest) -> Call:
    lease = await database_sync_to_async(access.call_lease_acquire)(token=token)
    call = Call(request.model, str(token.id))
    defaults = Options(model.name, settings.LLM_TEMPERATURE, settings.LLM_MAX_TOKENS)
    options = dataclasses.replace(defaults, **request.sampling())
    watcher, worker = await get_watcher(), await generation.get_worker()
    watcher.watch(call, token)
    call.producer = worker.spawn(produce(call, model, request.messages, options, token.owner), f"parley-api-{call.id}")

    def release(_) -> None:  # also when the producer was cancelled before it ever ran
        call.end(End("stop"))
        watcher.forget(call)
        worker.spawn(database_sync_to_async(access.call_lease_release)(lease_id=lease.id), "parley-api-release")

    call.producer.add_done_callback(release)
    return call


async def produce(call: Call, model: LLMModel, messages: list[dict[str, str]], options: Options, owner) -> None:
    """Stream the reply into the call, then charge what it cost, whatever ended it."""
    texts: list[str] = []
    usage = None

    def on_text(text: str) -> None:
        texts.append(text)
        call.put_text(text)

    try:
        async with asyncio.timeout(settings.PARLEY_GENERATION_DEADLINE):
            provider = generation.catalog_provider(model.provider)
            finish = await provider.stream_to(messages, options, on_text)
        usage = finish.usage
        call.end(End(finish_reason(finish.reason), finish.usage, finish.model))
    except TimeoutError:
        call.end(failure(DeadlineExceeded().user_message, "deadline_exceeded"))
    except SecretUnreadable:
        call.end(failure(generation.KEY_UNREADABLE, "upstream_error"))
    except LLMError as error:
        logger.info("API call %s failed upstream: %s", call.id, error)
        status, code = (429, "upstream_rate_limited") if isinstance(error, RateLimited) else (502, "upstream_error")
        call.end(failure(error.user_message, code, status))
    except Exception:
        logger.exception("API call %s failed", call.id)
        call.end(failure(generation.INTERNAL_ERROR, "internal_error", 500))
    finally:
        charge = functools.partial(
            access.call_charge, owner=owner, model=model, prompt=[m["content"] for m in messages], usage=usage
        )
        await asyncio.shield(database_sync_to_async(charge)(text="".join(texts)))
