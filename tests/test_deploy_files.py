"""docs/deploy.md shows the deploy files the multi-host test runs, exactly as they are in deploy/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.multihost.topology import ENV_FILE, UNIT, env_file, unit_options

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_FILES = ["deploy/nginx/parley.conf", "deploy/systemd/parley@.service", "deploy/systemd/parley.target"]


def fenced_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("path", DEPLOY_FILES)
def test_the_deploy_page_shows_each_file_as_it_is(path):
    assert (ROOT / path).read_text() in fenced_blocks((ROOT / "docs" / "deploy.md").read_text())


def test_the_unit_command_line_is_the_one_the_test_runs():
    assert unit_options(UNIT, 8002, "10.77.0.12") == [
        "-b", "10.77.0.12", "-p", "8002", "--proxy-headers", "--ping-interval", "5",
    ]  # fmt: skip


def test_the_example_environment_is_production_mode():
    env = env_file(ENV_FILE)
    assert env["DJANGO_DEBUG"] == "0" and env["DJANGO_SECURE_PROXY_SSL_HEADER"] == "1"
    assert env["PARLEY_MAX_CONNECTIONS_PER_IP"] == "0"  # behind the proxy, which limits per client
