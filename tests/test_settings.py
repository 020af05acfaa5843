"""Settings come from the environment: safe development defaults, strict and checked production."""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.db.utils import ConnectionHandler

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = str(ROOT / "chatsite" / "settings.py")
SECRET = "k3J9-pQ2v_Xw8zL5rT1yN7mB4cF6hD0sG!aE@uI#oP$eR%tY^wQ&zX*cV(bN)mL+"
IN_MEMORY_NOTICE = "REDIS_URL is not set: using the in-memory channel layer"
ENV_PREFIXES = ("DJANGO_", "DATABASE_", "REDIS_", "PARLEY_", "LLM_", "SIMULATOR_", "SQLITE_")


def clean_environ() -> dict[str, str]:
    """This process's environment without any Parley setting, so each test states its own."""
    return {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIXES)}


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        **clean_environ(),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "DJANGO_ALLOWED_HOSTS": "chat.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'db.sqlite3'}",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def load_settings(monkeypatch, **env: str) -> dict:
    """Execute settings.py afresh under exactly `env` and return its names."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(SETTINGS)


# --- production, as `manage.py` sees it -----------------------------------------


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_wildcard_allowed_hosts_fails_the_check_in_production():
    result = manage("check", "--deploy", env=production_env(DJANGO_ALLOWED_HOSTS="chat.example.com,*"))

    assert result.returncode != 0
    assert "parley.E001" in result.stderr


def test_wildcard_allowed_hosts_is_tolerated_in_development():
    env = {**clean_environ(), "DJANGO_ALLOWED_HOSTS": "*"}

    result = manage("check", env=env)

    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off." in result.stderr


def test_unset_redis_url_logs_the_in_memory_notice_once():
    result = manage("check", env=clean_environ())

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(IN_MEMORY_NOTICE) == 1


def test_set_redis_url_logs_no_in_memory_notice():
    result = manage("check", env={**clean_environ(), "REDIS_URL": "redis://127.0.0.1:6379/0"})

    assert IN_MEMORY_NOTICE not in result.stderr


# --- what each variable turns into ------------------------------------------------


def test_development_defaults(monkeypatch):
    names = load_settings(monkeypatch)

    assert names["DEBUG"] is True
    assert names["SECRET_KEY"].startswith("django-insecure-")
    assert names["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert names["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert names["DATABASES"]["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert names["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert names["PARLEY_SIGNUP_ENABLED"] is True
    assert names["LLM_PROVIDER"] == "simulator"
    assert names["LLM_TEMPERATURE"] is None and names["LLM_MAX_TOKENS"] is None
    assert "SECURE_SSL_REDIRECT" not in names


def test_production_defaults_are_strict(monkeypatch):
    names = load_settings(monkeypatch, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=SECRET)

    assert names["DEBUG"] is False
    assert names["ALLOWED_HOSTS"] == []
    assert names["PARLEY_SIGNUP_ENABLED"] is False
    assert names["SESSION_COOKIE_SECURE"] and names["CSRF_COOKIE_SECURE"] and names["SECURE_SSL_REDIRECT"]
    assert names["SECURE_HSTS_SECONDS"] == 31536000
    assert "SECURE_PROXY_SSL_HEADER" not in names
    assert names["STORAGES"]["staticfiles"]["BACKEND"].startswith("servestatic.")


def test_production_secret_key_is_required(monkeypatch):
    with pytest.raises(ImproperlyConfigured):
        load_settings(monkeypatch, DJANGO_DEBUG="false")


def test_proxy_header_is_opt_in(monkeypatch):
    names = load_settings(monkeypatch, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=SECRET, DJANGO_SECURE_PROXY_SSL_HEADER="yes")

    assert names["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_lists_and_numbers_are_parsed(monkeypatch):
    names = load_settings(
        monkeypatch,
        DJANGO_ALLOWED_HOSTS=" chat.example.com, ,api.example.com ",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://chat.example.com",
        PARLEY_PAGE_SIZE="7",
        PARLEY_FLUSH_INTERVAL="0.5",
        LLM_TEMPERATURE="0.2",
        LLM_MAX_TOKENS="256",
        PARLEY_SIGNUP_ENABLED="off",
    )

    assert names["ALLOWED_HOSTS"] == ["chat.example.com", "api.example.com"]
    assert names["CSRF_TRUSTED_ORIGINS"] == ["https://chat.example.com"]
    assert names["PARLEY_PAGE_SIZE"] == 7 and names["PARLEY_FLUSH_INTERVAL"] == 0.5
    assert names["LLM_TEMPERATURE"] == 0.2 and names["LLM_MAX_TOKENS"] == 256
    assert names["PARLEY_SIGNUP_ENABLED"] is False


def test_database_url_selects_postgresql(monkeypatch):
    names = load_settings(monkeypatch, DATABASE_URL="postgres://parley:pw@db.internal:5433/parley")

    database = names["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.internal", 5433, "parley")
    assert "transaction_mode" not in database.get("OPTIONS", {})


@pytest.mark.timeout(60)
def test_a_database_that_never_answers_fails_the_connection_instead_of_hanging_it(monkeypatch, django_db_blocker):
    """A PostgreSQL that accepts TCP and never speaks: the connection gives up after
    DATABASE_CONNECT_TIMEOUT (without it, libpq waited forever and this test timed out)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody ever answers
        port = silent.getsockname()[1]
        names = load_settings(
            monkeypatch, DATABASE_URL=f"postgres://parley:pw@127.0.0.1:{port}/parley", DATABASE_CONNECT_TIMEOUT="2"
        )
        assert names["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 2
        connection = ConnectionHandler({"default": names["DATABASES"]["default"]})["default"]
        with django_db_blocker.unblock(), pytest.raises(OperationalError, match="timeout"):
            connection.ensure_connection()


def test_the_database_url_may_set_its_own_connect_timeout(monkeypatch):
    names = load_settings(monkeypatch, DATABASE_URL="postgres://parley:pw@db.internal:5433/parley?connect_timeout=9")
    assert names["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 9
    names = load_settings(monkeypatch, DATABASE_URL="postgres://parley:pw@db.internal:5433/parley")
    assert names["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 5


def test_redis_url_selects_the_redis_channel_layer(monkeypatch):
    names = load_settings(monkeypatch, REDIS_URL="redis://cache.internal:6379/2")

    layer = names["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert layer["CONFIG"]["hosts"] == ["redis://cache.internal:6379/2"]


def test_sqlite_test_database_is_a_file_named_by_sqlite_test_name(monkeypatch, tmp_path):
    names = load_settings(monkeypatch, SQLITE_TEST_NAME=str(tmp_path / "t.sqlite3"))

    assert names["DATABASES"]["default"]["TEST"]["NAME"] == str(tmp_path / "t.sqlite3")
