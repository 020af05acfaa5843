"""Settings of the `naive` baseline: Channels with the default Redis layer, no database, no auth."""

from __future__ import annotations

import os

SECRET_KEY = "bench-naive-baseline"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
ROOT_URLCONF = "bench.baselines.naive.asgi"
DATABASES: dict = {}
USE_TZ = True
ASGI_APPLICATION = "bench.baselines.naive.asgi.application"
# The stock layer with its defaults; the prefix keeps its keys apart on a shared Redis.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")], "prefix": "bench-naive"},
    }
}
# OpenAI-compatible API root of the simulator.
UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8001/v1")
