"""`GET /api/models/`: the models this user may pick, as the picker and API clients see them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from .. import selectors
from ..http import api_view
from ..protocol import model_payload


@api_view("GET")
def model_list(request: HttpRequest) -> HttpResponse:
    models = selectors.models_for_user(user=request.user)
    return JsonResponse({"models": [model_payload(model) for model in models]})
