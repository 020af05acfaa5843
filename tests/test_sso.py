"""Single sign-on against a real OpenID Connect provider: django-oauth-toolkit in a second Django
process (tests/oidc_provider/), Parley in a live daphne, a plain HTTP client in between. No part
of the protocol is mocked: discovery, the authorization code with PKCE, the token exchange, the
signed ID token checked against the provider's published keys, and userinfo all really happen."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from conversations.models import Conversation, ExternalIdentity
from conversations.revocation import SESSION_ENDED
from tests.servers import ROOT, ServerProcess, free_port, live_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLIENT_ID = "parley-test-client"
CLIENT_SECRET = "a-client-secret-for-tests-only"
PASSWORD = "provider-password-1"
READY_TIMEOUT = 30.0
User = get_user_model()


class Provider:
    """django-oauth-toolkit as an OpenID Connect provider, in a Django process of its own."""

    def __init__(self, tmp_path, parley_port: int) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/o"
        self.redirect_uri = f"http://127.0.0.1:{parley_port}/oidc/callback/"
        self.post_logout_redirect_uri = f"http://127.0.0.1:{parley_port}/accounts/login/"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.env = {
            **live_env(),
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "PROVIDER_DB": str(tmp_path / "provider.sqlite3"),
            "PROVIDER_ISSUER": self.issuer,
            "PROVIDER_RSA_KEY": pem.decode(),
        }
        self.process: subprocess.Popen | None = None

    def django(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "django", *args], cwd=ROOT, env=self.env, check=True, timeout=120)

    def people(self, *people: dict) -> None:
        """Create or update the provider's users: username, email, groups (password: PASSWORD)."""
        users = [{"password": PASSWORD, **person} for person in people]
        self.django(
            "provider_setup",
            f"--client-id={CLIENT_ID}",
            f"--client-secret={CLIENT_SECRET}",
            f"--redirect-uri={self.redirect_uri}",
            f"--post-logout-redirect-uri={self.post_logout_redirect_uri}",
            f"--users={json.dumps(users)}",
        )

    def start(self) -> Provider:
        self.django("migrate", "--noinput", "-v", "0")
        command = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stderr=subprocess.DEVNULL)
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        with httpx.Client() as client:
            for _ in range(int(READY_TIMEOUT * 10)):
                try:
                    if client.get(discovery, timeout=1.0).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None:
                    raise RuntimeError("the OIDC provider exited")
                time.sleep(0.1)
        raise RuntimeError("the OIDC provider did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="module")
def parley_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory, parley_port) -> Iterator[Provider]:
    provider = Provider(tmp_path_factory.mktemp("oidc"), parley_port).start()
    yield provider
    provider.stop()


@pytest.fixture
def parley(provider, parley_port, redis_url, transactional_db):
    """Start Parley configured for the provider (extra settings as keyword arguments); stopped after the test."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        settings = {
            "REDIS_URL": redis_url,
            "PARLEY_OIDC_ISSUER": provider.issuer,
            "PARLEY_OIDC_CLIENT_ID": CLIENT_ID,
            "PARLEY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PARLEY_OIDC_NAME": "Example Corp",
            "PARLEY_OIDC_STAFF_GROUPS": "parley-admins",
            **env,
        }
        server = ServerProcess(live_env(**settings), port=parley_port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def sso_login(server: ServerProcess, username: str) -> httpx.Client:
    """Log in through the provider as a browser would; the client holds Parley's session after."""
    client = httpx.Client(base_url=server.http_url, follow_redirects=True, timeout=20.0)
    login_page = client.get("/oidc/authenticate/?next=/")
    assert login_page.url.path == "/accounts/login/" and login_page.url.port != server.port  # the provider's
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    landed = client.post(
        str(login_page.url),
        data={
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": PASSWORD,
            "next": login_page.url.params["next"],
        },
    )
    assert landed.status_code == 200 and landed.url.port == server.port, landed.url
    return client


def logged_in_as(client: httpx.Client) -> str | None:
    page = client.get("/")
    match = re.search(r'"username": "([^"]*)"', page.text)
    return match.group(1) if page.url.path == "/" and match else None


def account_of(username: str):
    return User.objects.get(username=username)


# --- login and groups ------------------------------------------------------------------


def test_a_first_login_creates_the_account_with_its_groups_and_staff_status(provider, parley):
    provider.people({"username": "pat", "email": "pat@example.com", "groups": ["parley-admins", "research"]})
    server = parley()

    client = sso_login(server, "pat")

    assert logged_in_as(client) == "pat"
    pat = account_of("pat")
    assert pat.is_staff and not pat.is_superuser and not pat.has_usable_password()
    assert {group.name for group in pat.groups.all()} == {"parley-admins", "research"}
    assert pat.email == "pat@example.com"
    assert ExternalIdentity.objects.get(user=pat).issuer == provider.issuer


def test_each_login_brings_the_groups_up_to_date(provider, parley):
    provider.people({"username": "quinn", "email": "quinn@example.com", "groups": ["parley-admins"]})
    server = parley()
    sso_login(server, "quinn")
    assert account_of("quinn").is_staff

    provider.people({"username": "quinn", "email": "quinn@example.com", "groups": ["support"]})
    client = sso_login(server, "quinn")

    assert logged_in_as(client) == "quinn" and User.objects.filter(username__startswith="quinn").count() == 1
    quinn = account_of("quinn")
    assert not quinn.is_staff and [group.name for group in quinn.groups.all()] == ["support"]


# --- linking by email -----------------------------------------------------------------------


def test_an_unverified_email_never_links_even_with_linking_on(provider, parley, alice):
    provider.people({"username": "mallory", "email": alice.email, "groups": ["email-unverified"]})
    server = parley(PARLEY_OIDC_LINK_BY_EMAIL="1")

    client = sso_login(server, "mallory")

    assert logged_in_as(client) == "mallory"
    assert not ExternalIdentity.objects.filter(user=alice).exists()
    assert account_of("mallory").email == ""  # an unverified address is not kept either


def test_a_verified_email_does_not_link_while_linking_is_off(provider, parley, alice):
    provider.people({"username": "alice-corp", "email": alice.email})
    server = parley()

    client = sso_login(server, "alice-corp")

    assert logged_in_as(client) == "alice-corp"
    assert not ExternalIdentity.objects.filter(user=alice).exists()


def test_a_verified_email_links_to_the_existing_account_when_linking_is_on(provider, parley, alice):
    provider.people({"username": "alice-sso", "email": alice.email.upper()})
    server = parley(PARLEY_OIDC_LINK_BY_EMAIL="1")

    client = sso_login(server, "alice-sso")

    assert logged_in_as(client) == "alice"
    assert ExternalIdentity.objects.get(user=alice).subject
    assert not User.objects.filter(username="alice-sso").exists()


# --- logout and password login -----------------------------------------------------------------------


def log_out_with_a_socket_open(server: ServerProcess, client: httpx.Client, username: str) -> httpx.Response:
    """POST /accounts/logout/ while a socket of the session is open; the socket must close with 1008."""
    conversation = Conversation.objects.create(owner=account_of(username), title="Plans")
    cookie = f"sessionid={client.cookies['sessionid']}"
    with ws_connect(
        f"{server.ws_url}/ws/conversations/{conversation.id}/",
        additional_headers={"Cookie": cookie, "Origin": server.http_url},
    ) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "conversation.snapshot"
        csrf = client.cookies["csrftoken"]
        logout = client.post("/accounts/logout/", headers={"X-CSRFToken": csrf, "Referer": server.http_url + "/"})
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                socket.recv(timeout=10)
        assert closed.value.rcvd.code == SESSION_ENDED
    assert client.get("/api/conversations/").status_code == 401
    return logout


def visited_the_provider(response: httpx.Response, provider: Provider, path: str) -> bool:
    return any(step.url.port == provider.port and step.url.path == path for step in response.history)


def test_logout_ends_the_session_and_closes_its_sockets(provider, parley):
    provider.people({"username": "rowan", "email": "rowan@example.com"})
    server = parley()
    client = sso_login(server, "rowan")

    logout = log_out_with_a_socket_open(server, client, "rowan")

    assert logout.url.path == "/accounts/login/" and not visited_the_provider(logout, provider, "/o/logout/")
    again = client.get("/oidc/authenticate/?next=/")  # still signed in at the provider: no password asked
    assert again.url.port == server.port and logged_in_as(client) == "rowan"


def test_logout_can_end_the_session_at_the_provider_too(provider, parley):
    provider.people({"username": "sage", "email": "sage@example.com"})
    server = parley(PARLEY_OIDC_PROVIDER_LOGOUT="1")
    client = sso_login(server, "sage")

    logout = log_out_with_a_socket_open(server, client, "sage")

    assert visited_the_provider(logout, provider, "/o/logout/")
    assert logout.url == httpx.URL(provider.post_logout_redirect_uri)  # and back to Parley's login page
    again = client.get("/oidc/authenticate/?next=/")
    assert again.url.port == provider.port and again.url.path == "/accounts/login/"  # the provider asks again


def test_a_password_session_logs_out_of_parley_only(provider, parley, alice, password):
    server = parley(PARLEY_OIDC_PROVIDER_LOGOUT="1")
    client = httpx.Client(base_url=server.http_url, follow_redirects=True, timeout=20.0)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/accounts/login/").text).group(1)
    client.post("/accounts/login/", data={"csrfmiddlewaretoken": token, "username": "alice", "password": password})
    assert logged_in_as(client) == "alice"

    logout = log_out_with_a_socket_open(server, client, "alice")

    assert logout.url.path == "/accounts/login/" and logout.url.port == server.port
    assert not visited_the_provider(logout, provider, "/o/logout/")


def test_password_login_can_be_switched_off(provider, parley, alice, password):
    provider.people({"username": "sky", "email": "sky@example.com"})
    server = parley(PARLEY_PASSWORD_LOGIN="0")
    client = httpx.Client(base_url=server.http_url, timeout=20.0)

    page = client.get("/accounts/login/").text
    assert "Log in with Example Corp" in page and 'name="password"' not in page
    token = "c" * 32  # a well-formed CSRF secret (the page has no form to hand one out), so only the view can refuse
    client.cookies.set("csrftoken", token)
    refused = client.post(
        "/accounts/login/", data={"csrfmiddlewaretoken": token, "username": "alice", "password": password}
    )
    assert refused.status_code == 403 and "Password login is switched off" in refused.text
    assert client.get("/admin/login/").headers["location"].startswith("/accounts/login/")
    assert client.get("/accounts/password_reset/").status_code == 404
    assert logged_in_as(sso_login(server, "sky")) == "sky"


def test_the_login_page_offers_both_by_default(provider, parley):
    page = httpx.get(f"{parley().http_url}/accounts/login/").text
    assert "Log in with Example Corp" in page and 'name="password"' in page


def test_switching_password_login_off_without_sso_fails_the_check(settings):
    settings.PARLEY_PASSWORD_LOGIN = False
    settings.PARLEY_OIDC_ISSUER = ""
    assert "parley.E003" in {message.id for message in run_checks()}
    settings.PARLEY_PASSWORD_LOGIN = True
    settings.PARLEY_OIDC_ISSUER = "https://id.example.com"
    settings.OIDC_RP_CLIENT_SECRET = ""
    assert "parley.E004" in {message.id for message in run_checks()}
