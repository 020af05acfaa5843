"""`GET /v1/models` and `POST /v1/chat/completions`: async views, so a stream costs a task, not a thread.

Requests authenticate with a personal token only (never the session cookie), so CSRF does not apply.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import access, direct, persisted, shapes
from .calls import Call, End
from .errors import OpenAIError
from .payloads import CompletionRequest, completion_request

CONVERSATION_HEADER = "X-Parley-Conversation"


@csrf_exempt
async def models(request: HttpRequest) -> HttpResponse:
    try:
        allow(request, "GET")
        token = await access.authenticate(request)
        models = await database_sync_to_async(access.models_by_id)(token.owner)
        return JsonResponse(shapes.model_list(access.listed_ids(models)))
    except OpenAIError as error:
        return error.response()


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    try:
        allow(request, "POST")
        token = await access.authenticate(request)
        completion = completion_request(request.body, max_bytes=settings.PARLEY_API_MAX_BODY)
        model = (await database_sync_to_async(access.models_by_id)(token.owner)).get(completion.model)
        if model is None:
            raise OpenAIError(
                404,
                f"The model '{completion.model}' does not exist or you do not have access to it.",
                "model_not_found",
                "model",
            )
        target = request.headers.get(CONVERSATION_HEADER)
        call = await (
            persisted.begin(token, model, completion, target) if target else direct.begin(token, model, completion)
        )
    except OpenAIError as error:
        return error.response()
    response = await (stream(call, completion) if completion.stream else whole(call))
    if call.conversation_id:
        response[CONVERSATION_HEADER] = call.conversation_id
    return response


def allow(request: HttpRequest, method: str) -> None:
    if request.method != method:
        raise OpenAIError(405, f"Method {request.method} is not allowed here; use {method}.", "method_not_allowed")


async def whole(call: Call) -> HttpResponse:
    """Wait for the whole reply; a client gone meanwhile stops it (unless it is saved)."""
    try:
        text, end = await call.collect()
    finally:
        call.abandon()
    if end.error is not None:
        return JsonResponse({"error": end.error}, status=end.status)
    return JsonResponse(shapes.completion(call.id, end.model or call.model, text, end.finish_reason, end.usage))


async def stream(call: Call, completion: CompletionRequest) -> HttpResponse:
    """Server-sent chunks. The first text is awaited before answering, so a failure before any
    text still gets its HTTP status; later failures arrive as an error event."""
    batches = call.batches()
    try:
        first = await anext(batches)
    except BaseException:
        call.abandon()
        raise
    if first[1] is not None and first[1].error is not None and not first[0]:
        call.abandon()
        return JsonResponse({"error": first[1].error}, status=first[1].status)
    response = StreamingHttpResponse(events(call, completion, first, batches), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and kin must not hold chunks back
    return response


async def events(call: Call, completion: CompletionRequest, first: tuple[str, End | None], batches):
    try:
        yield shapes.chunk(call.id, call.model, {"role": "assistant", "content": ""})
        text, end = first
        while True:
            if text:
                yield shapes.chunk(call.id, call.model, {"content": text})
            if end is not None:
                break
            text, end = await anext(batches)
        if end.error is not None:
            yield shapes.error_event({"error": end.error})
            return
        yield shapes.chunk(call.id, end.model or call.model, {}, end.finish_reason)
        if completion.include_usage:
            yield shapes.usage_chunk(call.id, end.model or call.model, end.usage)
        yield shapes.DONE
    finally:
        call.abandon()
