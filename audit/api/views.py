from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from accounts.choices import Role
from audit.choices import AuditAction
from audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", help_text="Username (empty: the system)")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "object_repr", "changes", "ip"]
        read_only_fields = fields


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_name")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    type = django_filters.CharFilter(field_name="object_type", help_text="app_label.model, e.g. alerts.alertrule")
    object_id = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields: list[str] = []


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """Who changed what (admin only): filter by ``actor``, ``type``, ``action``, ``since``/``until``."""

    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter
    read_role = Role.ADMIN
