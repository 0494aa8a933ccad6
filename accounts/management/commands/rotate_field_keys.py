"""Re-encrypt every encrypted field with the first of FIELD_ENCRYPTION_KEYS (after adding a new key)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from lib.crypto import EncryptedJSONField


class Command(BaseCommand):
    help = "Re-encrypt secrets at rest with the newest FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        for model in apps.get_models():
            fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedJSONField)]
            if not fields:
                continue
            count = 0
            with transaction.atomic():
                for obj in model._default_manager.select_for_update().only("pk", *fields).iterator():
                    model._default_manager.filter(pk=obj.pk).update(**{f: getattr(obj, f) for f in fields})
                    count += 1
            self.stdout.write(f"{model._meta.label}: {count} rows re-encrypted")
