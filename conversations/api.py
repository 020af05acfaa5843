"""The JSON API for conversations: thin views over selectors, services and the generation service."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import failures, generation, protocol, selectors, services
from .http import ApiError, api_view, read_json
from .models import Conversation, LLMModel
from .protocol import conversation_payload, message_payload

EDITABLE_FIELDS = {"title": services.TITLE_MAX, "system_prompt": 20_000}
SETTING_FIELDS = {"model", "temperature"}  # checked by clean_settings, not as text
FILING_FIELDS = ("pinned", "archived")  # true or false, checked by clean_filing
ARCHIVED_FILTER = {"0": False, "false": False, "1": True, "true": True}  # GET ?archived=
TEMPERATURE_RANGE = (0.0, 2.0)
# Any other refusal conflicts with the conversation's state: 409.
REFUSAL_STATUS = {
    "not_found": 404,
    "limit_reached": 429,
    "model_unavailable": 400,
    "quota_exceeded": 429,
    "invalid_field": 400,
    "too_large": 413,
    "model_cannot_see": 422,
}


@api_view("GET", "POST")
def conversation_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data = read_json(request)
        fields = {**clean_fields(data), **clean_settings(request, data), **clean_filing(data)}
        conversation = services.conversation_create(owner=request.user, **fields)
        return JsonResponse(conversation_payload(conversation), status=201)
    return JsonResponse(conversation_page(request))


@api_view("GET", "PATCH", "DELETE")
def conversation_detail(request: HttpRequest, conversation_id: str) -> HttpResponse:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise ApiError(404, "Conversation not found.")
    if request.method == "PATCH":
        data = read_json(request)
        fields = {**clean_fields(data), **clean_settings(request, data), **clean_filing(data)}
        if not fields:
            raise ApiError(400, "Nothing to change: send title, system_prompt, model, temperature, pinned or archived.")
        conversation = services.conversation_update(conversation=conversation, **fields)
        return JsonResponse(conversation_payload(conversation))
    if request.method == "DELETE":
        services.conversation_delete(conversation=conversation)
        return HttpResponse(status=204)
    return JsonResponse(conversation_with_messages(conversation))


def conversation_page(request: HttpRequest) -> dict[str, Any]:
    """One page of the user's unarchived conversations (`?archived=1`: archived ones), pinned first,
    then newest, with links to its neighbours."""
    search = request.GET.get("q", "").strip()
    if protocol.has_forbidden_characters(search):
        raise ApiError(400, protocol.FORBIDDEN_DETAIL.format(name="q"), field="q", code="invalid")
    archived = ARCHIVED_FILTER.get(request.GET.get("archived", "0").lower())
    if archived is None:
        raise ApiError(400, "archived must be 1 (archived chats only) or 0 (the others).", field="archived")
    conversations = selectors.conversation_list(user=request.user, search=search, archived=archived)
    paginator = Paginator(conversations, settings.PARLEY_PAGE_SIZE)
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        raise ApiError(400, "page must be a whole number.") from None
    if number < 1 or (number > paginator.num_pages):
        raise ApiError(404, "No such page.")
    page = paginator.page(number)
    return {
        "count": paginator.count,
        "next": page_link(request, page.next_page_number()) if page.has_next() else None,
        "previous": page_link(request, page.previous_page_number()) if page.has_previous() else None,
        "results": [conversation_payload(conversation) for conversation in page],
    }


def page_link(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    query["page"] = str(number)
    return f"{request.path}?{query.urlencode()}"


def conversation_with_messages(conversation: Conversation) -> dict[str, Any]:
    return {
        **conversation_payload(conversation),
        "messages": [message_payload(message) for message in selectors.message_list(conversation=conversation)],
    }


def clean_fields(data: dict[str, Any]) -> dict[str, str]:
    """The editable fields of a request body, checked for type and length."""
    unknown = set(data) - set(EDITABLE_FIELDS) - SETTING_FIELDS - set(FILING_FIELDS)
    if unknown:
        raise ApiError(400, f"Unknown field(s): {', '.join(sorted(unknown))}.")
    fields: dict[str, str] = {}
    for name, limit in EDITABLE_FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string.", field=name)
        if len(value) > limit:
            raise ApiError(400, f"{name} is longer than {limit} characters.", field=name)
        if not is_unicode(value):
            raise ApiError(400, f"{name} must be valid Unicode text.", field=name)
        if protocol.has_forbidden_characters(value):
            raise ApiError(400, protocol.FORBIDDEN_DETAIL.format(name=name), field=name, code="invalid")
        fields[name] = value
    return fields


def clean_settings(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    """`model` (a model id this user may use, or null for the default) and `temperature` (0 to 2, or null)."""
    fields: dict[str, Any] = {}
    if "model" in data:
        fields["model"] = clean_model(request, data["model"])
    if "temperature" in data:
        fields["temperature"] = clean_temperature(data["temperature"])
    return fields


def clean_filing(data: dict[str, Any]) -> dict[str, bool]:
    """`pinned` and `archived`, each true or false (not 1 or "yes": a typo must not file a chat)."""
    fields: dict[str, bool] = {}
    for name in FILING_FIELDS:
        if name in data:
            if not isinstance(data[name], bool):
                raise ApiError(400, f"{name} must be true or false.", field=name)
            fields[name] = data[name]
    return fields


def clean_model(request: HttpRequest, value: Any) -> LLMModel | None:
    if value is None:
        return None
    is_id = isinstance(value, int) and not isinstance(value, bool)
    model = selectors.usable_model(user=request.user, model_id=value) if is_id else None
    if model is None:
        message = f"model {value!r} is not a model you may use; GET /api/models/ lists them."
        raise ApiError(400, message, field="model", code="model_unavailable")
    return model


def clean_temperature(value: Any) -> float | None:
    low, high = TEMPERATURE_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"temperature must be a number from {low:g} to {high:g}, or null.", field="temperature")
    return float(value)


def is_unicode(text: str) -> bool:
    """False for a lone surrogate escaped in JSON ("\\ud800"), which no database can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@api_view("POST")
def conversation_messages(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Send a message, as `message.send` does: 202 with the saved message and the streaming reply,
    which every socket on the conversation watches; a retried request_id answers 200 with the same."""
    frame = api_frame({**read_json(request), "type": "message.send"})
    started = run_generation(
        generation.start,
        request,
        conversation_id,
        content=frame.content,
        request_id=frame.request_id,
        attachments=frame.attachments,
        model=frame.model,
    )
    body = {"user_message": message_payload(started.user_message), "reply": message_payload(started.reply)}
    return JsonResponse(body, status=200 if started.duplicate else 202)


@api_view("POST")
def conversation_regenerate(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """A new sibling of the last reply (or of `message_id`), as `message.regenerate` does: 202 with
    the new streaming reply and the id of the reply it takes the place of on the branch shown."""
    frame = api_frame({**read_json(request), "type": "message.regenerate"})
    started = run_generation(
        generation.regenerate, request, conversation_id, request_id=frame.request_id, message_id=frame.message_id
    )
    body = {"reply": message_payload(started.reply), "replaces": started.replaces}
    return JsonResponse(body, status=200 if started.duplicate else 202)


@api_view("POST")
def message_edit(request: HttpRequest, conversation_id: str, message_id: str) -> HttpResponse:
    """Edit a user message on the branch shown, as `message.edit` does: 202 with the new sibling, its
    streaming reply and the id of the message it takes the place of; a retried request_id answers 200."""
    frame = api_frame({**read_json(request), "type": "message.edit", "message_id": message_id})
    started = run_generation(
        generation.edit,
        request,
        conversation_id,
        message_id=frame.message_id,
        content=frame.content,
        request_id=frame.request_id,
    )
    body = {
        "user_message": message_payload(started.user_message),
        "reply": message_payload(started.reply),
        "replaces": started.replaces,
    }
    return JsonResponse(body, status=200 if started.duplicate else 202)


@api_view("POST")
def branch_select(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Show the branch through `message_id`, as `branch.select` does: every socket on the conversation
    gets a new snapshot, and the answer is the conversation with its new active path."""
    frame = api_frame({**read_json(request), "type": "branch.select"})
    try:
        services.branch_select(user=request.user, conversation_id=conversation_id, message_id=frame.message_id)
    except generation.Refused as refusal:
        raise refused(refusal) from None
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:  # deleted since, by another tab
        raise ApiError(404, "Conversation not found.", code="not_found")
    return JsonResponse(conversation_with_messages(conversation))


@api_view("POST")
def conversation_continue(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Continue the interrupted last reply, as `message.continue` does: 202 with the reply, streaming again."""
    frame = api_frame({**read_json(request), "type": "message.continue"})
    started = run_generation(generation.continue_reply, request, conversation_id, request_id=frame.request_id)
    return JsonResponse({"reply": message_payload(started.reply)}, status=200 if started.duplicate else 202)


@api_view("POST")
def conversation_stop(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Stop the running reply on whichever process runs it, as `generation.stop` does."""
    run_generation(generation.stop, request, conversation_id)
    return HttpResponse(status=202)


def api_frame(data: dict[str, Any]) -> protocol.ClientFrame:
    try:
        return protocol.client_frame(data)
    except protocol.ProtocolError as error:
        raise ApiError(400, error.detail, code=error.code) from None


def run_generation(action, request: HttpRequest, conversation_id: str, **fields: Any):
    """Call the generation service on the server's event loop, where its replies run."""
    call = action(user=request.user, conversation_id=conversation_id, **fields)
    try:
        return async_to_sync(failures.answer_within)(call, settings.PARLEY_ANSWER_TIMEOUT)
    except generation.Refused as refusal:
        raise refused(refusal) from None


def refused(refusal: generation.Refused) -> ApiError:
    """The generation service's refusal as the API answers it: the protocol's code, and its HTTP status."""
    return ApiError(REFUSAL_STATUS.get(refusal.code, 409), refusal.detail, code=refusal.code)
