"""TLS trust and proxy choice from an `HTTPNetwork`, the same for both transports.

httpx applies the proxy environment only to the transports it builds itself, and both of ours
are given to it ready-made, so `ProxyChoice` reads the same variables with the standard library.
"""

from __future__ import annotations

import ssl
import urllib.request

import httpx

from .config import HTTPNetwork


def ssl_context(network: HTTPNetwork) -> ssl.SSLContext:
    """Trust `ca_bundle` if given, else what httpx trusts (SSL_CERT_FILE, SSL_CERT_DIR, else certifi)."""
    if network.ca_bundle:
        context = ssl.create_default_context(cafile=network.ca_bundle)
    else:
        context = httpx.create_ssl_context(trust_env=True)
    if network.client_cert:
        context.load_cert_chain(network.client_cert, network.client_key or None)
    return context


class ProxyChoice:
    """The proxy for a URL: the explicit one for every request, else HTTP(S)_PROXY/ALL_PROXY minus NO_PROXY.

    The environment is read once, when the client is built, as httpx does.
    """

    def __init__(self, explicit: str = "") -> None:
        self.from_environment = not explicit
        self.proxies = urllib.request.getproxies_environment() if not explicit else {"all": explicit}

    def for_url(self, url: httpx.URL) -> httpx.URL | None:
        proxy = self.proxies.get(url.scheme) or self.proxies.get("all")
        if not proxy:
            return None
        host = f"{url.host}:{url.port}" if url.port else url.host
        if self.from_environment and urllib.request.proxy_bypass_environment(host, self.proxies):
            return None
        return httpx.URL(proxy if "://" in proxy else f"http://{proxy}")
