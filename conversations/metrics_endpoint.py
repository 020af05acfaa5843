"""GET /metrics: this process's metrics in Prometheus text format, for allowed addresses or a bearer token.

A scraper is let in when the connecting address is in PARLEY_METRICS_ALLOW (addresses or networks),
or when it sends `Authorization: Bearer <PARLEY_METRICS_TOKEN>`; everyone else gets 403.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def allowed_networks(allow: tuple[str, ...]) -> tuple[Network, ...]:
    """PARLEY_METRICS_ALLOW as networks; a bare address is a network of one (checked at startup, checks.py)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allow)


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks(tuple(settings.PARLEY_METRICS_ALLOW)))


def token_presented(request: HttpRequest) -> bool:
    token = settings.PARLEY_METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not (token_presented(request) or address_allowed(request.META.get("REMOTE_ADDR", ""))):
        return HttpResponse("Metrics are not available to this client.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
