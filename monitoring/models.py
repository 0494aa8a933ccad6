from __future__ import annotations

import secrets

from django.db import models

from accounts.models import hash_token

INGEST_KEY_PREFIX = "ssi_"


class IngestKey(models.Model):
    """A per-source key that may only ingest samples. Only its SHA-256 is stored."""

    name = models.CharField(max_length=100, unique=True, help_text="The source that uses this key.")
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
