"""Parley settings: every environment variable the project reads is read here.

Defaults suit a laptop (SQLite, in-memory channel layer, the built-in LLM
simulator). With DJANGO_DEBUG=0 the strict production defaults apply and
`manage.py check --deploy` passes without warnings.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable into a list, skipping blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


# --- Core ------------------------------------------------------------------

# Debug mode; off means production: strict cookies, HTTPS, HSTS and a required secret key.
DEBUG = env_bool("DJANGO_DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-parley-development-key-never-use-in-production"
# Signs sessions and CSRF tokens; production refuses to start without a real one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")

# Host names this server answers to; WebSocket origins are checked against the same list.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")

# Origins allowed to POST with a CSRF token, e.g. "https://chat.example.com".
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "conversations.http.csrf_failure"

INSTALLED_APPS = [
    "daphne",  # first, so `runserver` serves the ASGI app with WebSockets
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",  # before staticfiles: its `runserver` leaves static files to the middleware
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "django_ratelimit",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",  # async: static files never hold a thread
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "conversations.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires: turns a lockout into its page
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "conversations.context_processors.parley",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------

# SQLite in the project folder unless DATABASE_URL names another (postgres://...).
# Connections persist per worker thread (DATABASE_CONN_MAX_AGE seconds): reconnecting per query costs ms.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 300),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions make "one generation per conversation" checks race-free.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so live-server tests' daphne subprocesses see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or str(BASE_DIR / ".test-db.sqlite3")}
else:
    # Seconds to wait for the database to accept a connection (libpq's connect_timeout, 2 at least;
    # a ?connect_timeout= in DATABASE_URL wins): a server that accepts TCP and never answers, or a
    # blackholed address, fails the start `unavailable` instead of hanging it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer ---------------------------------------------------------

# Redis for the channel layer and the resume buffer; unset means one in-memory process.
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "parley"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache holds the sign-up and password-reset rate limits, so it is shared through Redis when there is one.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit lists only third-party Redis caches; Django's own RedisCache increments atomically (INCR).
    "django_ratelimit.W001",
    # Without REDIS_URL there is one process (the in-memory channel layer), whose memory cache is shared enough.
    *([] if REDIS_URL else ["django_ratelimit.E003"]),
]

# --- Accounts --------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"

# django-axes checks every login (the site's and the admin's) before the password is even tried.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins, per account and separately per client address, before that account or address is locked out.
AXES_FAILURE_LIMIT = env_int("PARLEY_LOGIN_FAILURE_LIMIT", 5)
# Seconds a lockout lasts, counted from the last failure.
AXES_COOLOFF_TIME = timedelta(seconds=env_int("PARLEY_LOGIN_COOLOFF", 900))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each one alone locks: an account, or an address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Single sign-on (OpenID Connect, docs/sso.md) ---
# The provider's issuer URL; its endpoints come from its discovery document. Empty switches SSO off.
PARLEY_OIDC_ISSUER = os.environ.get("PARLEY_OIDC_ISSUER", "")
# Parley's client id and secret at the provider, and the scopes it asks for.
OIDC_RP_CLIENT_ID = os.environ.get("PARLEY_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("PARLEY_OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = os.environ.get("PARLEY_OIDC_SCOPES", "openid email profile")
# The ID token's signing algorithm (RS256 checks it against the provider's published keys).
OIDC_RP_SIGN_ALGO = os.environ.get("PARLEY_OIDC_SIGN_ALGO", "RS256")
# The name on the login page's button.
PARLEY_OIDC_NAME = os.environ.get("PARLEY_OIDC_NAME", "single sign-on")
# The claim listing the user's groups; each login makes the account's Django groups exactly these.
PARLEY_OIDC_GROUPS_CLAIM = os.environ.get("PARLEY_OIDC_GROUPS_CLAIM", "groups")
# Groups (from that claim) whose members are staff; empty leaves staff status to the admin.
PARLEY_OIDC_STAFF_GROUPS = env_list("PARLEY_OIDC_STAFF_GROUPS")
# Whether a first SSO login may join the existing account with its email (only if the provider verified it).
PARLEY_OIDC_LINK_BY_EMAIL = env_bool("PARLEY_OIDC_LINK_BY_EMAIL", False)
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_float("PARLEY_OIDC_TIMEOUT", 10.0)
OIDC_VERIFY_SSL = True
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
# Whether logging out of Parley also ends the session at the provider (RP-initiated logout, docs/sso.md).
PARLEY_OIDC_PROVIDER_LOGOUT = env_bool("PARLEY_OIDC_PROVIDER_LOGOUT", False)
OIDC_STORE_ID_TOKEN = PARLEY_OIDC_PROVIDER_LOGOUT  # the id_token_hint that logout sends to the provider
if PARLEY_OIDC_ISSUER:
    AUTHENTICATION_BACKENDS.append("conversations.sso.backend.ParleyOIDCBackend")
    OIDC_AUTHENTICATE_CLASS = "conversations.sso.backend.ParleyOIDCRequestView"
    if PARLEY_OIDC_PROVIDER_LOGOUT:
        OIDC_OP_LOGOUT_URL_METHOD = "conversations.sso.logout.provider_logout_url"

# Whether accounts may log in with a password (the site's and the admin's login); off leaves SSO only.
PARLEY_PASSWORD_LOGIN = env_bool("PARLEY_PASSWORD_LOGIN", True)
if not PARLEY_PASSWORD_LOGIN:
    AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")

# Whether /accounts/signup/ lets anyone create an account (default: on in development only; never without passwords).
PARLEY_SIGNUP_ENABLED = env_bool("PARLEY_SIGNUP_ENABLED", DEBUG) and PARLEY_PASSWORD_LOGIN
# Sign-ups one client address may attempt, and accounts all sign-ups together may create (count/period).
PARLEY_SIGNUP_RATE = os.environ.get("PARLEY_SIGNUP_RATE", "5/h")
PARLEY_SIGNUP_GLOBAL_RATE = os.environ.get("PARLEY_SIGNUP_GLOBAL_RATE", "100/h")
# Password-reset emails one client address may ask for (count/period).
PARLEY_PASSWORD_RESET_RATE = os.environ.get("PARLEY_PASSWORD_RESET_RATE", "5/h")

# --- Email -----------------------------------------------------------------

# SMTP server for password-reset mail; unset in development prints mail to the console instead.
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True)
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and not EMAIL_HOST
    else "django.core.mail.backends.smtp.EmailBackend"
)
# The From address of Parley's mail.
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "parley@localhost")

# --- Internationalisation and static files ---------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "servestatic.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security ------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Seconds a login lasts; live sockets close when it runs out.
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_COOKIE_AGE", 14 * 24 * 3600)

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Behind a TLS-terminating proxy set DJANGO_SECURE_PROXY_SSL_HEADER=1.
    if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Scrapers and health probes reach each daphne port directly, in plain HTTP (docs/operations.md).
    SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^healthz$"]

# Image hosts the chat page may load model-supplied images from ("https://img.example.com").
PARLEY_TRUSTED_IMAGE_HOSTS = env_list("PARLEY_TRUSTED_IMAGE_HOSTS")

# --- API and WebSocket limits ---------------------------------------------

# Largest JSON body the HTTP API accepts, in bytes; larger bodies get 413.
PARLEY_API_MAX_BODY = env_int("PARLEY_API_MAX_BODY", 64 * 1024)
# Largest WebSocket text frame the consumer accepts, in bytes; larger gets an error frame.
PARLEY_WS_MAX_FRAME = env_int("PARLEY_WS_MAX_FRAME", 64 * 1024)
# Largest frame daphne itself accepts before closing with 1009 (protects memory).
PARLEY_WS_HARD_MAX_FRAME = env_int("PARLEY_WS_HARD_MAX_FRAME", 1024 * 1024)
# `manage.py runserver` (daphne) reads these; pass the same to the daphne command in production.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = PARLEY_WS_HARD_MAX_FRAME
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = PARLEY_WS_HARD_MAX_FRAME
# Seconds a client has to send each HTTP request's headers before its connection is aborted (0: off).
PARLEY_HEADER_TIMEOUT = env_float("PARLEY_HEADER_TIMEOUT", 10.0)
# Seconds a WebSocket has to complete its handshake once its headers are in (daphne's own bound).
PARLEY_WS_HANDSHAKE_TIMEOUT = env_int("PARLEY_WS_HANDSHAKE_TIMEOUT", 5)
# Open connections one client IP may hold per process; more are closed at once (0: no cap).
# Behind a proxy every connection comes from the proxy: set 0 and limit per client there (docs/deploy.md).
PARLEY_MAX_CONNECTIONS_PER_IP = env_int("PARLEY_MAX_CONNECTIONS_PER_IP", 256)
# Frames one socket may send per second (token bucket, burst of the same size).
PARLEY_WS_RATE = env_float("PARLEY_WS_RATE", 20.0)
# Sockets one user may have open at once, across all processes (counted in Redis).
PARLEY_MAX_SOCKETS_PER_USER = env_int("PARLEY_MAX_SOCKETS_PER_USER", 50)
# Frames one user may send per second across all their sockets and processes.
PARLEY_WS_USER_RATE = env_float("PARLEY_WS_USER_RATE", 40.0)
# Full snapshots (connects and `sync` answers) one user may get per minute across all sockets.
PARLEY_SNAPSHOTS_PER_MINUTE = env_int("PARLEY_SNAPSHOTS_PER_MINUTE", 120)
# Seconds between two `sync` answers on one socket; syncs in between are folded into one snapshot.
PARLEY_SYNC_INTERVAL = env_float("PARLEY_SYNC_INTERVAL", 2.0)
# Conversations one user may start per hour (deleted ones count), and bytes of text (titles, system
# prompts, messages and finished replies) one user may store; past either, 429 / quota_exceeded.
PARLEY_MAX_CONVERSATIONS_PER_HOUR = env_int("PARLEY_MAX_CONVERSATIONS_PER_HOUR", 200)
PARLEY_MAX_STORED_BYTES_PER_USER = env_int("PARLEY_MAX_STORED_BYTES_PER_USER", 100_000_000)
# Seconds a socket frame or API call may wait on the database or Redis before it is answered
# `unavailable` (503); a send that gets through later still streams, once.
PARLEY_ANSWER_TIMEOUT = env_float("PARLEY_ANSWER_TIMEOUT", 10.0)
# Concurrent generations one user may run across all conversations and processes.
PARLEY_MAX_GENERATIONS_PER_USER = env_int("PARLEY_MAX_GENERATIONS_PER_USER", 5)
# Viewer sockets one share link may have open, counted across processes through Redis.
PARLEY_SHARE_MAX_VIEWERS = env_int("PARLEY_SHARE_MAX_VIEWERS", 50)
# Largest file `POST /api/imports/` accepts, in bytes, and the most a zip may expand to (docs/export.md).
PARLEY_IMPORT_MAX_BYTES = env_int("PARLEY_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# Conversations per API page.
PARLEY_PAGE_SIZE = env_int("PARLEY_PAGE_SIZE", 50)
# Searches (GET /api/search/) one user may make (count/period); more get 429.
PARLEY_SEARCH_RATE = os.environ.get("PARLEY_SEARCH_RATE", "60/m")

# --- Streaming -------------------------------------------------------------

# Deltas are coalesced and broadcast at most this often per reply, in seconds.
PARLEY_FLUSH_INTERVAL = env_float("PARLEY_FLUSH_INTERVAL", 0.05)
# Partial replies are saved to the database this often, in seconds (also the liveness heartbeat).
PARLEY_CHECKPOINT_INTERVAL = env_float("PARLEY_CHECKPOINT_INTERVAL", 2.0)
# A streaming reply whose heartbeat is older than this is taken as orphaned by a dead process.
PARLEY_STALE_AFTER = env_float("PARLEY_STALE_AFTER", 10.0)
# Total wall-clock budget of one generation, in seconds; past it the reply fails with its text kept.
PARLEY_GENERATION_DEADLINE = env_float("PARLEY_GENERATION_DEADLINE", 300.0)

# --- Operations --------------------------------------------------------------

# Addresses and networks that may read /metrics without a token (comma-separated; CIDR allowed).
PARLEY_METRICS_ALLOW = env_list("PARLEY_METRICS_ALLOW", "127.0.0.1,::1")
# A bearer token that also opens /metrics, from any address; empty means addresses only.
PARLEY_METRICS_TOKEN = os.environ.get("PARLEY_METRICS_TOKEN", "")

# Seconds between each process's reports to the live console in the admin.
PARLEY_CONSOLE_INTERVAL = env_float("PARLEY_CONSOLE_INTERVAL", 1.0)

# --- Tools (docs/tools.md) ---
# Dotted paths of the Python functions (sync or async) models may call; empty offers no tools.
PARLEY_TOOLS = env_list("PARLEY_TOOLS")
# Rounds of tool calls one reply may make before it stops asking.
PARLEY_TOOL_MAX_STEPS = env_int("PARLEY_TOOL_MAX_STEPS", 5)
# Seconds one tool call may run; past it the model is told the call timed out.
PARLEY_TOOL_TIMEOUT = env_float("PARLEY_TOOL_TIMEOUT", 30.0)
# Threads that run sync tools, shared by the process (a sync tool never runs on the event loop).
PARLEY_TOOL_THREADS = env_int("PARLEY_TOOL_THREADS", 8)
# Worker processes for the sync tools listed with `:process` in PARLEY_TOOLS (started on first use).
PARLEY_TOOL_PROCESSES = env_int("PARLEY_TOOL_PROCESSES", 2)
# How far below the server's OS priority those workers run (os.nice), so a shared core favours streaming.
PARLEY_TOOL_PROCESS_NICE = env_int("PARLEY_TOOL_PROCESS_NICE", 19)
# Longest tool result sent back to the model, in characters; longer results are cut with a note.
PARLEY_TOOL_RESULT_MAX = env_int("PARLEY_TOOL_RESULT_MAX", 16000)
# Seconds the MCP servers' tool lists are kept before they are listed again (a down server is retried then too).
PARLEY_MCP_REFRESH = env_float("PARLEY_MCP_REFRESH", 60.0)
# Seconds to connect to an MCP server and list its tools, and the HTTP timeout of its tool calls.
PARLEY_MCP_TIMEOUT = env_float("PARLEY_MCP_TIMEOUT", 15.0)

# --- Attachments (docs/attachments.md) ---
# Largest file one upload may be, in bytes; larger gets 413.
PARLEY_UPLOAD_MAX_BYTES = env_int("PARLEY_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Largest total of the attachments of one message, in bytes.
PARLEY_UPLOAD_MAX_PER_MESSAGE = env_int("PARLEY_UPLOAD_MAX_PER_MESSAGE", 25 * 1024 * 1024)
# Most attachments one message may carry.
PARLEY_UPLOAD_MAX_FILES = env_int("PARLEY_UPLOAD_MAX_FILES", 10)
# Seconds an upload no message uses is kept before it is deleted (by the worker, or `manage.py expire_uploads`).
PARLEY_UPLOAD_TTL = env_int("PARLEY_UPLOAD_TTL", 24 * 3600)
# Seconds between each process's deletions of expired uploads (worker housekeeping); 0 leaves it to cron.
PARLEY_UPLOAD_EXPIRE_INTERVAL = env_float("PARLEY_UPLOAD_EXPIRE_INTERVAL", 3600.0)
# Largest image accepted, in pixels (width x height): a decompression bomb is refused before decoding.
PARLEY_UPLOAD_MAX_PIXELS = env_int("PARLEY_UPLOAD_MAX_PIXELS", 40_000_000)
# Most bytes a PDF's streams may expand to while its text is read (a zip bomb stops here).
PARLEY_PDF_MAX_EXPANDED = env_int("PARLEY_PDF_MAX_EXPANDED", 50 * 1024 * 1024)
# Most pages of a PDF whose text is read.
PARLEY_PDF_MAX_PAGES = env_int("PARLEY_PDF_MAX_PAGES", 500)
# Most characters of text kept from one document at upload.
PARLEY_UPLOAD_TEXT_MAX = env_int("PARLEY_UPLOAD_TEXT_MAX", 200_000)
# Token budget of the documents' text in one prompt (about 4 characters a token); the rest is cut with a note.
PARLEY_ATTACHMENT_TOKEN_BUDGET = env_int("PARLEY_ATTACHMENT_TOKEN_BUDGET", 8000)
# Where uploads are stored: a Django storage backend's dotted path (django-storages' S3Storage for S3).
PARLEY_FILE_STORAGE = os.environ.get("PARLEY_FILE_STORAGE", "django.core.files.storage.FileSystemStorage")
# The filesystem storage's folder (unused by other backends).
MEDIA_ROOT = os.environ.get("PARLEY_MEDIA_ROOT", str(BASE_DIR / "media"))
# S3-compatible storage (PARLEY_FILE_STORAGE=storages.backends.s3.S3Storage): bucket, endpoint and region;
# credentials come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment or an instance role.
PARLEY_S3_OPTIONS = {
    key: value
    for key, value in {
        "bucket_name": os.environ.get("PARLEY_S3_BUCKET", ""),
        "endpoint_url": os.environ.get("PARLEY_S3_ENDPOINT_URL", ""),
        "region_name": os.environ.get("PARLEY_S3_REGION", ""),
    }.items()
    if value
}

# --- LLM -------------------------------------------------------------------

# Which provider streams replies: simulator, openai, anthropic or ollama (or a dotted path).
LLM_PROVIDER = os.environ.get("LLM_PROVIDER", "simulator")
# API root as the vendor documents it; empty for the simulator runs it in-process.
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "")
# Secret key for the provider; never committed, only read from the environment.
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")
# Model name sent upstream and stored on each reply.
LLM_MODEL = os.environ.get("LLM_MODEL", "")
# Sampling temperature and reply cap sent with every request (empty: provider default).
LLM_TEMPERATURE = float(os.environ["LLM_TEMPERATURE"]) if os.environ.get("LLM_TEMPERATURE") else None
LLM_MAX_TOKENS = int(os.environ["LLM_MAX_TOKENS"]) if os.environ.get("LLM_MAX_TOKENS") else None
# Seconds to open a connection, to wait for the first byte, and to wait between chunks.
LLM_CONNECT_TIMEOUT = env_float("LLM_CONNECT_TIMEOUT", 10.0)
LLM_FIRST_BYTE_TIMEOUT = env_float("LLM_FIRST_BYTE_TIMEOUT", 60.0)
LLM_IDLE_TIMEOUT = env_float("LLM_IDLE_TIMEOUT", 30.0)
# Connection pool of the shared httpx client.
LLM_MAX_CONNECTIONS = env_int("LLM_MAX_CONNECTIONS", 1000)
LLM_MAX_KEEPALIVE = env_int("LLM_MAX_KEEPALIVE", 100)
# Attempts for 429/5xx before the first token arrives (1 means no retry).
LLM_MAX_ATTEMPTS = env_int("LLM_MAX_ATTEMPTS", 3)
# Proxy URL for every LLM request; empty honours HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY.
LLM_PROXY = os.environ.get("LLM_PROXY", "")
# PEM file of the CAs to trust (a company CA); empty trusts SSL_CERT_FILE / SSL_CERT_DIR if set, else certifi.
LLM_CA_BUNDLE = os.environ.get("LLM_CA_BUNDLE", "")
# PEM client certificate for servers that require one (may include its key), and its key when separate.
LLM_CLIENT_CERT = os.environ.get("LLM_CLIENT_CERT", "")
LLM_CLIENT_KEY = os.environ.get("LLM_CLIENT_KEY", "")
# Offer HTTP/2 to the provider (TLS servers that speak it, via ALPN).
LLM_HTTP2 = env_bool("LLM_HTTP2", False)
# Use Parley's leaner HTTP/1.1 transport (llhttp parser) instead of httpx's own; ignored with LLM_HTTP2.
LLM_FAST_TRANSPORT = env_bool("LLM_FAST_TRANSPORT", False)

# Fernet keys (comma-separated, newest first) that encrypt provider API keys stored in the database.
PARLEY_ENCRYPTION_KEY = env_list("PARLEY_ENCRYPTION_KEY")
# Where a provider's `api_key_env` is looked up: the process environment.
PROVIDER_KEY_ENVIRONMENT = os.environ
# A TOML file of providers and models (docs/llm.md) loaded at start-up, as `manage.py load_models` does.
PARLEY_MODELS_FILE = os.environ.get("PARLEY_MODELS_FILE", "")

# The catalog model that writes chat titles, as "provider/name" (a cheap one); empty: each chat's own model.
PARLEY_TASK_MODEL = os.environ.get("PARLEY_TASK_MODEL", "")
# Seconds the task model has to write a title; past it the first message's first 60 characters stand.
PARLEY_TITLE_TIMEOUT = env_float("PARLEY_TITLE_TIMEOUT", 20.0)

# Defaults of the built-in simulator when it runs inside the app (LLM_PROVIDER=simulator, no LLM_BASE_URL).
SIMULATOR_TOKENS_PER_SECOND = env_float("SIMULATOR_TOKENS_PER_SECOND", 40.0)
SIMULATOR_FIRST_TOKEN_DELAY = env_float("SIMULATOR_FIRST_TOKEN_DELAY", 0.3)
SIMULATOR_REPLY_TOKENS = env_int("SIMULATOR_REPLY_TOKENS", 120)

# --- Logging ---------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PARLEY_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler would print every django.* record a second time.
        "django": {"handlers": [], "level": "INFO"},
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}

# Uploaded attachments (docs/attachments.md): the filesystem under MEDIA_ROOT unless PARLEY_FILE_STORAGE says otherwise.
STORAGES["attachments"] = {
    "BACKEND": PARLEY_FILE_STORAGE,
    "OPTIONS": PARLEY_S3_OPTIONS if "s3" in PARLEY_FILE_STORAGE.lower() else {},
}
