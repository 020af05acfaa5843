"""Sign-in protection: lockouts per account and per address with their cool-off, password reset by
email, and a sign-up that no number of requests can turn into a flood of accounts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.db.models import F
from django.test import Client

from conversations.accounts.views import TOO_MANY_RESETS, TOO_MANY_SIGNUPS
from tests.test_settings import SECRET, load_settings

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
RESET = "/accounts/password_reset/"
SIGNUP = "/accounts/signup/"
LIMIT = 3
COOLOFF = timedelta(minutes=15)

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = COOLOFF


def log_in(username: str, password: str, address: str, path: str = LOGIN):
    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": username, "password": password})
    return response, client.session.get("_auth_user_id")


def fail(username: str, address: str, times: int = LIMIT) -> list[int]:
    """Wrong passwords; the statuses answered (the failure that reaches the limit is answered 429)."""
    return [log_in(username, "wrong-password", address)[0].status_code for _ in range(times)]


def time_passes(delta: timedelta) -> None:
    """Move every recorded failure into the past; django-axes counts only those within the cool-off."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)


# --- lockout ---------------------------------------------------------------------


def test_an_account_is_locked_after_n_failures_from_any_addresses(alice, bob, password):
    statuses = [fail(alice.username, f"198.51.100.{number}", times=1)[0] for number in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]

    response, user_id = log_in(alice.username, password, "203.0.113.77")
    assert response.status_code == 429 and user_id is None
    assert b"Too many failed logins" in response.content
    assert log_in(bob.username, password, "198.51.100.0")[1] == str(bob.pk)  # the addresses themselves are fine


def test_an_address_is_locked_after_n_failures_on_any_accounts(alice, bob, password):
    statuses = [fail(name, "198.51.100.5", times=1)[0] for name in ("carol", "dave", alice.username)]
    assert statuses == [200, 200, 429]

    response, user_id = log_in(bob.username, password, "198.51.100.5")
    assert response.status_code == 429 and user_id is None
    assert log_in(bob.username, password, "198.51.100.6")[1] == str(bob.pk)  # bob's account is fine elsewhere


def test_fewer_failures_than_the_limit_lock_nothing(alice, password):
    assert fail(alice.username, "198.51.100.7", times=LIMIT - 1) == [200] * (LIMIT - 1)
    assert log_in(alice.username, password, "198.51.100.7")[1] == str(alice.pk)


def test_a_success_resets_the_count(alice, password):
    fail(alice.username, "198.51.100.8", times=LIMIT - 1)
    assert log_in(alice.username, password, "198.51.100.8")[1] == str(alice.pk)
    fail(alice.username, "198.51.100.8", times=LIMIT - 1)
    assert log_in(alice.username, password, "198.51.100.8")[1] == str(alice.pk)


def test_the_lockout_lifts_after_the_cool_off(alice, password):
    fail(alice.username, "198.51.100.9")
    time_passes(COOLOFF - timedelta(minutes=1))  # a minute's margin: the test's own run time must not lift it
    assert log_in(alice.username, "wrong-password", "198.51.100.90")[0].status_code == 429

    time_passes(COOLOFF + timedelta(seconds=1))
    response, user_id = log_in(alice.username, password, "198.51.100.9")
    assert response.status_code == 302 and user_id == str(alice.pk)


def test_an_attempt_during_the_lockout_starts_the_cool_off_again(alice, password):
    fail(alice.username, "198.51.100.9")
    time_passes(COOLOFF - timedelta(minutes=1))
    assert log_in(alice.username, password, "198.51.100.9")[0].status_code == 429

    time_passes(timedelta(minutes=2))  # the first cool-off is over, the one the last attempt started is not
    assert log_in(alice.username, password, "198.51.100.9")[0].status_code == 429


def test_the_admin_login_is_locked_too(alice, password):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    fail(alice.username, "198.51.100.10")

    response, user_id = log_in(alice.username, password, "198.51.100.10", path=ADMIN_LOGIN)
    assert response.status_code == 429 and user_id is None


# --- password reset by email -----------------------------------------------------------


def reset_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", message.body).group(1)


def test_a_password_reset_email_sets_a_new_password(alice, client):
    response = client.post(RESET, {"email": alice.email})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [alice.email]

    form = client.get(reset_link(mail.outbox[0]), follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    new = "a-fresh-long-passphrase-42"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    alice.refresh_from_db()
    assert alice.check_password(new)
    assert client.get(reset_link(mail.outbox[0])).context["validlink"] is False  # the link works once


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, db):
    response = client.post(RESET, {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


def test_reset_requests_are_rate_limited_per_address_and_keep_the_typed_email(alice, settings):
    settings.PARLEY_PASSWORD_RESET_RATE = "2/h"
    client = Client(REMOTE_ADDR="198.51.100.11")
    for _ in range(2):
        assert client.post(RESET, {"email": alice.email}).status_code == 302

    refused = client.post(RESET, {"email": alice.email})
    assert refused.status_code == 429
    assert TOO_MANY_RESETS in refused.content.decode() and alice.email in refused.content.decode()
    assert len(mail.outbox) == 2
    assert Client(REMOTE_ADDR="198.51.100.12").post(RESET, {"email": alice.email}).status_code == 302


def test_the_login_page_links_to_the_reset(client, db):
    assert RESET.encode() in client.get(LOGIN).content


# --- sign-up that cannot flood the database -------------------------------------------------


def account(name: str, **extra) -> dict:
    passphrase = "a-long-unusual-passphrase"
    return {"username": name, "password1": passphrase, "password2": passphrase, **extra}


def user_count() -> int:
    return get_user_model().objects.count()


@pytest.fixture
def open_signup(settings):
    settings.PARLEY_SIGNUP_ENABLED = True


def test_sign_up_attempts_are_limited_per_address_and_keep_what_was_typed(open_signup, settings, db):
    settings.PARLEY_SIGNUP_RATE = "2/h"
    client = Client(REMOTE_ADDR="198.51.100.20")
    assert client.post(SIGNUP, account("first")).status_code == 302
    assert client.post(SIGNUP, account("x", password2="mismatch")).status_code == 200  # failures count too

    refused = client.post(SIGNUP, account("third", email="third@example.com"))
    assert refused.status_code == 429
    page = refused.content.decode()
    assert TOO_MANY_SIGNUPS in page and 'value="third"' in page and 'value="third@example.com"' in page
    assert not get_user_model().objects.filter(username="third").exists()
    assert Client(REMOTE_ADDR="198.51.100.21").post(SIGNUP, account("third")).status_code == 302


def test_accounts_created_across_all_addresses_are_capped(open_signup, settings, db):
    settings.PARLEY_SIGNUP_GLOBAL_RATE = "3/h"
    before = user_count()
    answers = [Client(REMOTE_ADDR=f"203.0.113.{n}").post(SIGNUP, account(f"bot{n}")).status_code for n in range(6)]

    assert answers == [302, 302, 302, 429, 429, 429]
    assert user_count() == before + 3


def test_sign_up_takes_an_optional_unique_email(open_signup, alice):
    assert Client().post(SIGNUP, account("withmail", email="with@example.com")).status_code == 302
    assert get_user_model().objects.get(username="withmail").email == "with@example.com"

    taken = Client().post(SIGNUP, account("copycat", email=alice.email.upper()))
    assert taken.status_code == 200 and "email" in taken.context["form"].errors


# --- settings ---------------------------------------------------------------------------


def test_mail_goes_to_the_console_in_development_and_to_smtp_in_production(monkeypatch):
    assert load_settings(monkeypatch)["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    production = load_settings(
        monkeypatch, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=SECRET, DJANGO_EMAIL_HOST="smtp.example.com"
    )
    assert production["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (production["EMAIL_HOST"], production["EMAIL_PORT"], production["EMAIL_USE_TLS"]) == (
        "smtp.example.com",
        587,
        True,
    )


def test_lockout_limits_come_from_the_environment(monkeypatch):
    names = load_settings(monkeypatch, PARLEY_LOGIN_FAILURE_LIMIT="7", PARLEY_LOGIN_COOLOFF="60")
    assert names["AXES_FAILURE_LIMIT"] == 7 and names["AXES_COOLOFF_TIME"] == timedelta(seconds=60)
    assert names["AXES_LOCKOUT_PARAMETERS"] == ["username", "ip_address"]
