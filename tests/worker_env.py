"""Give each pytest-xdist worker the Redis and test database that tests/services.py made for it.

Loaded with `-p tests.worker_env`, so it runs before pytest-django imports the settings, which
read REDIS_URL once. Workers share a machine, not a server: pub/sub channels ignore Redis's
database number, and every test's conversation ids start at 1, so two workers on one Redis
would hear each other's replies.
"""

from __future__ import annotations

import json
import os

WORKER_ENV = "PARLEY_TEST_WORKER_ENV"  # JSON: {"gw0": {"REDIS_URL": ..., ...}, "gw1": {...}}

worker = os.environ.get("PYTEST_XDIST_WORKER")
if worker and WORKER_ENV in os.environ:
    by_worker = json.loads(os.environ[WORKER_ENV])
    if worker not in by_worker:
        made = len(by_worker)
        raise RuntimeError(f"scripts/test made {made} workers: choose their number with PARLEY_TEST_WORKERS, not -n")
    os.environ.update(by_worker[worker])
