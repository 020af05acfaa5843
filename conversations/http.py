"""JSON responses and request checks shared by the API views."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import failures, storage_limits


class ApiError(Exception):
    """An error the API reports as JSON with this status and message."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or ApiError 400/413 saying what is wrong."""
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number.") from None
    if length > settings.PARLEY_API_MAX_BODY:
        raise ApiError(413, f"Request body is larger than {settings.PARLEY_API_MAX_BODY} bytes.")
    if not request.body:
        return {}
    if len(request.body) > settings.PARLEY_API_MAX_BODY:
        raise ApiError(413, f"Request body is larger than {settings.PARLEY_API_MAX_BODY} bytes.")
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    return data


def api_view(
    *methods: str, anonymous: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Allow only `methods`, require login (unless the view checks who may read, `anonymous`), and
    turn ApiError into a JSON error response."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error_response(405, f"Method {request.method} is not allowed here.")
                response["Allow"] = ", ".join(methods)
                return response
            if not anonymous and not request.user.is_authenticated:
                return error_response(401, "Authentication required: log in first.")
            try:
                return view(request, *args, **kwargs)
            except ApiError as error:
                return error_response(error.status, error.message, **error.extra)
            except storage_limits.QuotaExceeded as error:
                return error_response(429, error.detail, code=error.code)
            except Exception as error:  # a service down is a 503 in words, anything else a real 500
                detail = failures.unavailable_detail(error)
                if detail is None:
                    raise
                return error_response(503, detail, code=failures.UNAVAILABLE)

        return wrapper

    return decorate


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals: JSON for the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(403, f"CSRF check failed: {reason}")
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason)
