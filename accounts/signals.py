"""A password change revokes every API token of that user (sessions end by Django's own hash check)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts.models import ApiToken

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="accounts.password_changed_check")
def _note_password_change(sender: type, instance: Any, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_changed = stored is not None and stored != instance.password


@receiver(post_save, sender=User, dispatch_uid="accounts.password_changed_revoke")
def _revoke_tokens_on_password_change(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and getattr(instance, "_password_changed", False):
        ApiToken.objects.filter(user=instance).delete()
        instance._password_changed = False
