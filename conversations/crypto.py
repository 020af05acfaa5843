"""Secrets at rest: provider API keys encrypted with PARLEY_ENCRYPTION_KEY (Fernet, from `cryptography`).

PARLEY_ENCRYPTION_KEY holds one or more comma-separated Fernet keys. The first encrypts; every
one of them decrypts, which is how a key is rotated (docs/llm.md): put the new key first, run
`manage.py rotate_api_keys`, then drop the old one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts."""


def _fernet() -> MultiFernet:
    keys = settings.PARLEY_ENCRYPTION_KEY
    if not keys:
        raise ImproperlyConfigured(
            "PARLEY_ENCRYPTION_KEY is not set, so API keys cannot be stored. Generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`, "
            "or name an environment variable that holds the key instead (api_key_env)."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured("PARLEY_ENCRYPTION_KEY must be url-safe base64 Fernet keys.") from None


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored API key cannot be decrypted with PARLEY_ENCRYPTION_KEY.") from None


def rotate(token: str) -> str:
    """The same secret, encrypted again with the first (newest) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored API key cannot be decrypted with PARLEY_ENCRYPTION_KEY.") from None


def hint(secret: str) -> str:
    """Enough of a key to recognise it, never enough to use it."""
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"
