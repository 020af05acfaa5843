"""scripts/test spreads the suite over pytest-xdist workers, each with its own Redis and test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.services import ROOT, spread
from tests.worker_env import WORKER_ENV


def test_one_worker_runs_in_process_with_its_variables() -> None:
    assert spread(["-x"], [{"REDIS_URL": "redis://a"}]) == (["-x"], {"REDIS_URL": "redis://a"})


def test_several_workers_each_get_their_own_variables() -> None:
    args, env = spread(["-x"], [{"REDIS_URL": "redis://a"}, {"REDIS_URL": "redis://b"}])
    assert args == ["-n", "2", "-p", "tests.worker_env", "-x"]
    assert json.loads(env[WORKER_ENV]) == {"gw0": {"REDIS_URL": "redis://a"}, "gw1": {"REDIS_URL": "redis://b"}}


def test_a_worker_takes_its_entry_before_anything_reads_the_environment() -> None:
    by_worker = {"gw0": {"REDIS_URL": "redis://a"}, "gw1": {"REDIS_URL": "redis://b"}}
    env = {**os.environ, "PYTEST_XDIST_WORKER": "gw1", WORKER_ENV: json.dumps(by_worker)}
    script = "import os, tests.worker_env; print(os.environ['REDIS_URL'])"
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "redis://b"


@pytest.mark.skipif(WORKER_ENV not in os.environ, reason="runs only on a worker of scripts/test")
def test_this_workers_settings_use_its_own_redis() -> None:
    """The settings read REDIS_URL once, at import: tests/worker_env.py must have run before."""
    mine = json.loads(os.environ[WORKER_ENV])[os.environ["PYTEST_XDIST_WORKER"]]
    assert mine["REDIS_URL"] == settings.REDIS_URL
