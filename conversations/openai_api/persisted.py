"""A saved call: `X-Parley-Conversation: new | <id>` puts the exchange in one of the token owner's
conversations, and the reply runs through the generation service like any other. Browsers watching
that conversation see it stream; it can be stopped there (the API stream then ends with `stop`);
the API client going away only stops the watching, never the reply.

The call follows the reply as a socket does: it joins the conversation's group before the reply
starts (the resume rule), forwards deltas in `seq` order, heals a gap from the live state, and
ends with the saved message, whose text is the authority.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from .. import generation, protocol, selectors, services
from ..llm.base import Usage
from ..models import ApiToken, Conversation, LLMModel, Message
from ..realtime.broadcast import conversation_group
from .calls import Call, End, failure
from .errors import OpenAIError
from .payloads import CompletionRequest
from .watch import get_watcher

logger = logging.getLogger(__name__)

NEW = "new"
REFUSAL_STATUS = {"not_found": 404, "limit_reached": 429, "quota_exceeded": 429, "busy": 409}
ENDS = {"complete": "stop", "cancelled": "stop"}  # any other final status is a failure


async def begin(token: ApiToken, model: LLMModel, request: CompletionRequest, target: str) -> Call:
    owner = token.owner
    conversation = await database_sync_to_async(conversation_for)(token, model, request, target.strip())
    call = Call(request.model, str(token.id))
    call.conversation_id = str(conversation.id)
    worker, watcher = await generation.get_worker(), await get_watcher()
    group, channel = conversation_group(conversation.id), await worker.layer.new_channel("parley.api-call.")
    await worker.layer.group_add(group, channel)  # before the start: no delta can slip past
    try:
        started = await generation.start(
            user=owner,
            conversation_id=conversation.id,
            content=request.messages[-1]["content"],
            request_id=f"api-{call.id}",
            model=model.id,
            sampling=request.sampling(),
        )
    except BaseException as error:
        await worker.layer.group_discard(group, channel)
        if isinstance(error, generation.Refused):
            raise OpenAIError(REFUSAL_STATUS.get(error.code, 409), error.detail, error.code) from None
        raise
    watcher.watch(call, token)
    reply_id = str(started.reply.id)
    call.producer = worker.spawn(follow(call, worker.layer, group, channel, reply_id), f"parley-api-{call.id}")
    call.producer.add_done_callback(lambda _: watcher.forget(call))
    call.on_cut = lambda: worker.spawn(stop_quietly(owner, conversation.id), "parley-api-stop")
    return call


def conversation_for(token: ApiToken, model: LLMModel, request: CompletionRequest, target: str) -> Conversation:
    """A new conversation holding the request's earlier turns, or the owner's conversation named."""
    if target.lower() == NEW:
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        turns = [m for m in request.messages[:-1] if m["role"] != "system" and m["content"]]
        return services.conversation_create_with_turns(
            owner=token.owner, model=model, system_prompt=system, turns=turns
        )
    try:
        conversation = selectors.conversation_get(user=token.owner, conversation_id=target)
    except ValidationError:
        conversation = None
    if conversation is None:
        raise OpenAIError(
            404,
            "No such conversation of yours; send a conversation id or 'new'.",
            "conversation_not_found",
            "X-Parley-Conversation",
        )
    return conversation


async def follow(call: Call, layer, group: str, channel: str, reply_id: str) -> None:
    """Forward the reply's text to the call, in order and once, then end it as the reply ended."""
    sent, seq = 0, 0  # characters already on the call; the last delta forwarded
    try:
        while True:
            try:
                async with asyncio.timeout(settings.PARLEY_STALE_AFTER):
                    event = await layer.receive(channel)
            except TimeoutError:  # quiet for long: the final frame may have been lost (pub/sub drops)
                message = await database_sync_to_async(finished_reply)(reply_id)
                if message is None:
                    continue
                event = {"type": "chat.frame", "done": reply_id, "frame": json.dumps({"message": message})}
            if event.get("type") == "chat.delta" and event.get("id") == reply_id:
                if event["seq"] == seq + 1:
                    text = json.loads(event["frame"])["delta"]
                    call.put_text(text)
                    sent, seq = sent + len(text), event["seq"]
                elif event["seq"] > seq + 1:  # a lost broadcast: catch up from the live state
                    live = await generation.live_state(reply_id)
                    if live is not None and live[1] > seq:
                        call.put_text(live[0][sent:])
                        sent, seq = len(live[0]), live[1]
            elif event.get("type") == "chat.frame" and event.get("done") == reply_id:
                message = json.loads(event["frame"])["message"]
                call.put_text(message["content"][sent:])
                call.end(final(message))
                return
    finally:
        await asyncio.shield(layer.group_discard(group, channel))


def finished_reply(reply_id: str) -> dict | None:
    """The saved reply as `message.completed` carries it once it is no longer streaming (a failure
    if it is gone), or None while it streams."""
    reply = Message.objects.filter(id=reply_id).first()
    if reply is None:
        return {"content": "", "status": "failed", "error": "The reply was deleted before it finished."}
    return None if reply.status == Message.Status.STREAMING else protocol.message_payload(reply)


def final(message: dict) -> End:
    """A saved reply's end as OpenAI says it: stopped in the browser is `stop` too."""
    if message["status"] in ENDS:
        usage = message.get("usage")
        usage = Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")) if usage else None
        return End(ENDS[message["status"]], usage, message.get("model") or "")
    return failure(message.get("error") or "The reply failed.", f"reply_{message['status']}")


async def stop_quietly(owner, conversation_id) -> None:
    """Stop the reply of a call whose token ended; it may have finished meanwhile."""
    with contextlib.suppress(generation.Refused):
        await generation.stop(user=owner, conversation_id=conversation_id)
