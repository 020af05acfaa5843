"""Logging in and out, sign-up behind PARLEY_SIGNUP_ENABLED, and the chat pages' login wall."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
SIGNUP = "/accounts/signup/"
NEW_ACCOUNT = {
    "username": "newcomer",
    "password1": "a-long-unusual-passphrase",
    "password2": "a-long-unusual-passphrase",
}


def logged_in_user(client):
    return client.session.get("_auth_user_id")


def test_login_page_renders_a_form(client, db):
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_login_with_the_right_password_goes_to_the_chat(client, alice, password):
    response = client.post(LOGIN, {"username": alice.username, "password": password})

    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in_user(client) == str(alice.pk)


def test_login_returns_to_next(client, alice, password):
    response = client.post(f"{LOGIN}?next=/c/{uuid.uuid4()}/", {"username": alice.username, "password": password})

    assert response["Location"].startswith("/c/")


def test_login_with_a_wrong_password_is_refused(client, alice):
    response = client.post(LOGIN, {"username": alice.username, "password": "wrong"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert logged_in_user(client) is None


def test_logout_by_post_ends_the_session(alice_client):
    response = alice_client.post(LOGOUT)

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert logged_in_user(alice_client) is None
    assert alice_client.get("/api/conversations/").status_code == 401


def test_logout_by_get_is_refused(alice_client, alice):
    response = alice_client.get(LOGOUT)

    assert response.status_code == 405
    assert logged_in_user(alice_client) == str(alice.pk)


def test_signup_page_renders_when_enabled(client, db, settings):
    settings.PARLEY_SIGNUP_ENABLED = True

    response = client.get(SIGNUP)

    assert response.status_code == 200
    assert b'name="password2"' in response.content


def test_signup_creates_the_account_and_logs_in(client, db, settings):
    settings.PARLEY_SIGNUP_ENABLED = True

    response = client.post(SIGNUP, NEW_ACCOUNT)

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="newcomer")
    assert user.check_password(NEW_ACCOUNT["password1"])
    assert not user.is_staff
    assert logged_in_user(client) == str(user.pk)


def test_signup_shows_errors_for_mismatched_passwords(client, db, settings):
    settings.PARLEY_SIGNUP_ENABLED = True

    response = client.post(SIGNUP, {**NEW_ACCOUNT, "password2": "something-else-entirely"})

    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not get_user_model().objects.filter(username="newcomer").exists()


def test_signup_refuses_a_taken_username(client, alice, settings):
    settings.PARLEY_SIGNUP_ENABLED = True

    response = client.post(SIGNUP, {**NEW_ACCOUNT, "username": alice.username})

    assert response.status_code == 200
    assert "username" in response.context["form"].errors


@pytest.mark.parametrize("method", ["get", "post"])
def test_signup_is_404_when_disabled(client, db, settings, method):
    settings.PARLEY_SIGNUP_ENABLED = False

    response = getattr(client, method)(SIGNUP, NEW_ACCOUNT if method == "post" else None)

    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="newcomer").exists()


@pytest.mark.parametrize("path", ["/", "/c/1b7c6e2a-5d3f-4c8e-9a10-2f4b6d8e0c31/"])
def test_chat_pages_send_anonymous_users_to_login(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={path}"


def test_chat_page_renders_for_a_logged_in_user(alice_client, alice):
    response = alice_client.get("/")

    assert response.status_code == 200
    assert response.context["parley_config"]["username"] == alice.username


def test_conversation_page_renders_for_its_owner(alice_client, answered_conversation):
    response = alice_client.get(f"/c/{answered_conversation.id}/")

    assert response.status_code == 200
    assert response.context["parley_config"]["conversationId"] == answered_conversation.id


def test_someone_elses_conversation_page_is_404(bob_client, answered_conversation):
    assert bob_client.get(f"/c/{answered_conversation.id}/").status_code == 404


def test_a_missing_conversation_page_is_404(alice_client):
    assert alice_client.get("/c/1b7c6e2a-5d3f-4c8e-9a10-2f4b6d8e0c31/").status_code == 404


def test_login_page_offers_sign_up_only_when_it_is_open(client, settings):
    settings.PARLEY_SIGNUP_ENABLED = True
    assert b"/accounts/signup/" in client.get("/accounts/login/").content
    settings.PARLEY_SIGNUP_ENABLED = False
    assert b"/accounts/signup/" not in client.get("/accounts/login/").content
