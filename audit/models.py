"""Who changed what: one row per change or authentication event."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.choices import AuditAction


class AuditEntry(models.Model):
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The name at the time (kept when the user is deleted; the attempted name for failed logins).
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [old, new]}, secrets masked")
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # GET /api/v1/audit/ and the admin list: newest first, optionally since/until.
            models.Index(fields=["-at"], name="audit_at_idx"),
            # ?object_type= filter (with the time order).
            models.Index(fields=["object_type", "-at"], name="audit_type_at_idx"),
            # ?actor= filter (with the time order).
            models.Index(fields=["actor_name", "-at"], name="audit_actor_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action} {self.object_type}"
