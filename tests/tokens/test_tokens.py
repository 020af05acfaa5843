"""Personal API tokens: stored hashed, shown once, expiry and revocation, the settings page, the command, the admin."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from conversations.models import ApiToken
from conversations.tokens import services as tokens

pytestmark = pytest.mark.db

PAGE = "/settings/tokens/"


def test_a_token_is_stored_only_as_its_digest(alice):
    token, secret = tokens.token_create(owner=alice, name="laptop")
    assert re.fullmatch(r"parley_[A-Za-z0-9_-]{43}", secret)
    stored = ApiToken.objects.get(id=token.id)
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.prefix == secret[: tokens.PREFIX_LENGTH]
    assert secret not in {getattr(stored, field.attname) for field in ApiToken._meta.concrete_fields}


def test_authentication_takes_the_secret_and_nothing_else(alice):
    token, secret = tokens.token_create(owner=alice, name="laptop")
    assert tokens.token_authenticate(secret).id == token.id
    assert tokens.token_authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert tokens.token_authenticate(token.digest) is None  # the stored digest is not a credential
    assert tokens.token_authenticate("") is None


def test_expired_and_revoked_tokens_stop_working_at_once(alice):
    expiring, expiring_secret = tokens.token_create(owner=alice, name="short", expires_in_days=1)
    assert tokens.token_authenticate(expiring_secret) is not None
    ApiToken.objects.filter(id=expiring.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.token_authenticate(expiring_secret) is None

    revoked, revoked_secret = tokens.token_create(owner=alice, name="gone")
    assert tokens.token_revoke(owner=alice, token_id=revoked.id)
    assert tokens.token_authenticate(revoked_secret) is None
    assert not tokens.token_revoke(owner=alice, token_id=revoked.id)  # already revoked


def test_an_inactive_owner_cannot_use_their_tokens(alice):
    _, secret = tokens.token_create(owner=alice, name="laptop")
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert tokens.token_authenticate(secret) is None


def test_nobody_revokes_someone_elses_token(alice, bob):
    token, secret = tokens.token_create(owner=alice, name="laptop")
    assert not tokens.token_revoke(owner=bob, token_id=token.id)
    assert not tokens.token_revoke(owner=bob, token_id="not-a-uuid")
    assert tokens.token_authenticate(secret) is not None


def test_the_settings_page_shows_a_new_token_once_and_never_again(alice, alice_client):
    response = alice_client.post(PAGE, {"name": "editor", "expires": "30"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = re.search(r'value="(parley_[^"]+)"', response.content.decode()).group(1)
    token = tokens.token_authenticate(secret)
    assert token.name == "editor" and token.owner == alice
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    listing = alice_client.get(PAGE).content.decode()
    assert "editor" in listing and token.prefix in listing and secret not in listing


def test_the_settings_page_refuses_a_token_without_a_name(alice_client):
    response = alice_client.post(PAGE, {"name": "", "expires": ""})
    assert response.status_code == 400 and b"parley_" not in response.content
    assert not ApiToken.objects.exists()


def test_the_settings_page_revokes_only_the_users_own_tokens(alice, bob, alice_client, bob_client):
    token, secret = tokens.token_create(owner=alice, name="alice-home-server")
    assert bob_client.post(f"{PAGE}{token.id}/revoke/").status_code == 302
    assert tokens.token_authenticate(secret) is not None
    assert token.name not in bob_client.get(PAGE).content.decode()
    assert alice_client.post(f"{PAGE}{token.id}/revoke/").status_code == 302
    assert tokens.token_authenticate(secret) is None


def test_the_settings_page_needs_a_login(client):
    assert client.get(PAGE).status_code == 302


def test_the_command_prints_a_working_token(alice):
    out = StringIO()
    call_command("create_api_token", "alice", "--name", "cron", "--expires", "7", stdout=out)
    token = tokens.token_authenticate(out.getvalue().strip())
    assert token.name == "cron" and token.owner == alice and token.expires_at is not None


@pytest.mark.parametrize("arguments", [["nobody"], ["alice", "--expires", "0"]])
def test_the_command_refuses_bad_input(alice, arguments):
    with pytest.raises(CommandError):
        call_command("create_api_token", *arguments, stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_the_admin_lists_tokens_without_their_secret(admin_client, alice):
    token, secret = tokens.token_create(owner=alice, name="laptop")
    listing = admin_client.get("/admin/conversations/apitoken/").content.decode()
    change = admin_client.get(f"/admin/conversations/apitoken/{token.id}/change/").content.decode()
    for page in (listing, change):
        assert token.prefix in page and secret not in page and token.digest not in page
    assert admin_client.get("/admin/conversations/apitoken/add/").status_code == 403


def test_the_admin_revokes_selected_tokens(admin_client, alice):
    token, secret = tokens.token_create(owner=alice, name="laptop")
    response = admin_client.post(
        "/admin/conversations/apitoken/", {"action": "revoke", "_selected_action": [str(token.id)]}
    )
    assert response.status_code == 302
    assert tokens.token_authenticate(secret) is None
