"""Secrets encrypted at rest: ``EncryptedJSONField`` (Fernet, rotatable keys) for channel and
scrape-target configs and anything else holding credentials.

Keys: ``FIELD_ENCRYPTION_KEYS`` (Fernet keys, newest first) encrypt with the first and decrypt
with any; a key derived from ``SECRET_KEY`` always decrypts too (and encrypts when no key is set).
Rotate: put a new key first, run ``manage.py rotate_field_keys``, then drop the old key.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

ENVELOPE_KEY = "fernet"  # stored as {"fernet": "<token>"} in the jsonb column


def derived_key(secret_key: str) -> bytes:
    # cryptography is imported where used (~7 MB): models load this module in every process.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"seismo field encryption v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@functools.lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet  # heavy: see derived_key

    try:
        fernets = [Fernet(key.encode()) for key in keys if key]
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds a malformed Fernet key: {exc}") from None
    return MultiFernet([*fernets, Fernet(derived_key(secret_key))])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(data: bytes) -> str:
    return fernet().encrypt(data).decode()


def decrypt(token: str) -> bytes:
    from cryptography.fernet import InvalidToken  # heavy: see derived_key

    try:
        return fernet().decrypt(token.encode())
    except InvalidToken:
        raise ImproperlyConfigured(
            "an encrypted field cannot be decrypted with FIELD_ENCRYPTION_KEYS or SECRET_KEY (was a key dropped?)"
        ) from None


class EncryptedJSONField(models.JSONField):
    """A JSONField whose value is stored encrypted (the column stays jsonb). Not queryable by
    content. Rows written before the field was encrypted read as they are and are encrypted
    on their next save."""

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        plain = super().get_prep_value(value)
        return {ENVELOPE_KEY: encrypt(json.dumps(plain, cls=self.encoder).encode())}

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        return self._open(value)

    def to_python(self, value: Any) -> Any:
        return self._open(super().to_python(value))

    def _open(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {ENVELOPE_KEY} and isinstance(value[ENVELOPE_KEY], str):
            return json.loads(decrypt(value[ENVELOPE_KEY]), cls=self.decoder)
        return value
