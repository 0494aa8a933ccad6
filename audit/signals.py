"""Model and authentication signals feed :func:`audit.services.record` (the only writer)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from audit import services
from audit.choices import AuditAction

# Field values noted by pre_save, keyed by the instance, so post_save can diff them.
_BEFORE = "_audit_before"
SKIPPED_FIELDS = frozenset({"last_login", "created_at", "updated_at", "modified_at"})


def _values(instance: models.Model) -> dict[str, Any]:
    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in SKIPPED_FIELDS:
            continue
        value = field.value_from_object(instance)
        values[field.name] = value if isinstance(value, str | int | float | bool | dict | list | None) else str(value)
    return values


def _before(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    old = sender._default_manager.filter(pk=instance.pk).first() if instance.pk is not None else None
    setattr(instance, _BEFORE, _values(old) if old is not None else None)


def _after_save(sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    before = getattr(instance, _BEFORE, None) or {}
    after = _values(instance)
    changes = {k: [before.get(k), v] for k, v in after.items() if k not in before or before[k] != v}
    if not created and not changes:
        return  # saved unchanged: nothing happened
    if instance._meta.label_lower == "accounts.apitoken" and created:
        # Issued by the token endpoint, which has no authenticated user yet: the owner acts.
        services.record(AuditAction.TOKEN_CREATED, obj=instance, changes=changes, actor=instance.user)
        return
    services.record(AuditAction.CREATE if created else AuditAction.UPDATE, obj=instance, changes=changes)


def _after_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    action = AuditAction.TOKEN_REVOKED if instance._meta.label_lower == "accounts.apitoken" else AuditAction.DELETE
    services.record(action, obj=instance, changes={k: [v, None] for k, v in _values(instance).items()})


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.record(AuditAction.LOGIN, request=request, actor=user)


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        services.record(AuditAction.LOGOUT, request=request, actor=user)


def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    services.record(AuditAction.LOGIN_FAILED, request=request, actor_name=str(credentials.get("username", "")))


def audited_models() -> list[type[models.Model]]:
    found = []
    for label in settings.AUDIT_MODELS:
        try:
            found.append(apps.get_model(label))
        except (LookupError, ValueError):
            continue  # an app not installed (yet): nothing of it to audit
    return found


def connect() -> None:
    for model in audited_models():
        uid = model._meta.label_lower
        pre_save.connect(_before, sender=model, dispatch_uid=f"audit.before.{uid}")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"audit.save.{uid}")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"audit.delete.{uid}")
    user_logged_in.connect(_logged_in, dispatch_uid="audit.login")
    user_logged_out.connect(_logged_out, dispatch_uid="audit.logout")
    user_login_failed.connect(_login_failed, dispatch_uid="audit.login_failed")
