from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from lib.text import valid_name

USER_TOKEN_PREFIX = "sst_"  # noqa: S105 (a prefix, not a secret)
INGEST_KEY_PREFIX = "ssi_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A user's bearer token. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="api", validators=[valid_name])
    # Bearer authentication looks tokens up by hash: unique gives it an index.
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: object, name: str = "api", expires_at: datetime | None = None) -> tuple[ApiToken, str]:
        raw = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, key_hash=hash_token(raw), prefix=raw[:10], expires_at=expires_at
        )
        return token, raw

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def revoke(self) -> None:
        self.delete()


class IngestKey(models.Model):
    """A per-source key that may only ingest samples. Only its SHA-256 is stored."""

    name = models.CharField(
        max_length=100, unique=True, validators=[valid_name], help_text="The source that uses this key."
    )
    # Bearer authentication looks keys up by hash: unique gives it an index.
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def issue(cls, name: str) -> tuple[IngestKey, str]:
        raw = INGEST_KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(name=name, key_hash=hash_token(raw), prefix=raw[:10])
        return key, raw

    def rotate(self) -> str:
        raw = INGEST_KEY_PREFIX + secrets.token_urlsafe(32)
        self.key_hash = hash_token(raw)
        self.prefix = raw[:10]
        self.save(update_fields=["key_hash", "prefix"])
        return raw

    @classmethod
    def lookup(cls, raw: str) -> IngestKey | None:
        if not raw.startswith(INGEST_KEY_PREFIX):
            return None
        return cls.objects.filter(key_hash=hash_token(raw), is_active=True).first()
