"""Plain settings objects handed to providers by the registry, so providers never read Django settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HTTPLimits:
    """Pool size and time bounds (seconds) of the shared HTTP client and of each streamed reply."""

    connect_timeout: float = 10.0
    first_byte_timeout: float = 60.0  # from sending the request until the first complete event
    idle_timeout: float = 30.0  # between complete events; a server dripping bytes does not reset it
    max_connections: int = 1000
    max_keepalive: int = 100


@dataclass(frozen=True, slots=True)
class HTTPNetwork:
    """How the shared HTTP client reaches providers: proxy, trusted CAs, client certificate, protocol."""

    proxy: str = ""  # explicit proxy URL (LLM_PROXY); empty = honour HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY
    ca_bundle: str = ""  # PEM file of trusted CAs (LLM_CA_BUNDLE); empty = SSL_CERT_FILE / SSL_CERT_DIR, else certifi
    client_cert: str = ""  # PEM client certificate, may include the key (LLM_CLIENT_CERT)
    client_key: str = ""  # its key when separate (LLM_CLIENT_KEY)
    http2: bool = False  # LLM_HTTP2=1 (needs the `h2` package)
    fast: bool = False  # LLM_FAST_TRANSPORT=1: transport.FastTransport instead of httpx's own (HTTP/1.1 only)


@dataclass(frozen=True, slots=True)
class SimulatorDefaults:
    """Server-wide reply defaults of the built-in simulator; `!sim` directives override them per request."""

    tps: float = 40.0
    ttft: float = 0.3
    tokens: int = 120
    seed: int = 0


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Everything a provider is constructed with; empty `base_url` means the vendor's documented root."""

    base_url: str = ""
    api_key: str = field(default="", repr=False)  # never in a log line or a traceback's repr
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # extra request headers; may hold secrets
    limits: HTTPLimits = field(default_factory=HTTPLimits)
    network: HTTPNetwork = field(default_factory=HTTPNetwork)
    max_attempts: int = 3
    retry_base_delay: float = 0.5  # first backoff step when the server gives no Retry-After
    retry_max_delay: float = 30.0
    simulator: SimulatorDefaults = field(default_factory=SimulatorDefaults)
