"""Content-Security-Policy: no inline script, and images only from this site or trusted hosts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse


def build_policy(image_hosts: list[str]) -> str:
    images = " ".join(["'self'", "data:", *image_hosts])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that does not set its own. Async-capable, as Django
    documents, so under ASGI a request never holds a thread for its whole life because of it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.policy = build_policy(settings.PARLEY_TRUSTED_IMAGE_HOSTS)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.acall(request)
        return self.add_policy(self.get_response(request))

    async def acall(self, request: HttpRequest) -> HttpResponse:
        return self.add_policy(await self.get_response(request))

    def add_policy(self, response: HttpResponse) -> HttpResponse:
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
