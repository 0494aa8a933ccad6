"""Scrape targets API: admins write, everyone with a role reads (secrets masked)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.choices import Role
from lib.serializers import clean_as_saved
from monitoring.intake.targets import import_scrape_configs
from monitoring.models import MASK, ScrapeTarget


class ScrapeTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScrapeTarget
        fields = [
            "id",
            "name",
            "url",
            "interval_seconds",
            "timeout_seconds",
            "labels",
            "auth",
            "sample_limit",
            "enabled",
            "health",
            "last_scrape",
            "last_duration_seconds",
            "last_samples",
            "last_error",
            "created_at",
        ]
        read_only_fields = ["health", "last_scrape", "last_duration_seconds", "last_samples", "last_error"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        auth = attrs.get("auth")
        if self.instance is not None and isinstance(auth, dict):
            # A masked secret sent back unchanged keeps its stored value.
            for key, value in list(auth.items()):
                if value == MASK:
                    auth[key] = self.instance.auth.get(key, "")
        clean_as_saved(self, attrs)  # the one validation the admin and the import use too
        return attrs

    def to_representation(self, instance: ScrapeTarget) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["auth"] = instance.masked_auth()
        return data


class ScrapeTargetViewSet(viewsets.ModelViewSet):
    queryset = ScrapeTarget.objects.all()
    serializer_class = ScrapeTargetSerializer
    write_role = Role.ADMIN
    filterset_fields = ["enabled", "health"]

    @extend_schema(
        request=inline_serializer("ScrapeConfigImport", {"config": serializers.CharField()}),
        responses={201: ScrapeTargetSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_config(self, request: Request) -> Response:
        """Create targets from a Prometheus ``scrape_configs`` block (YAML, static_configs)."""
        text = request.data.get("config") if isinstance(request.data, dict) else None
        if not isinstance(text, str):
            raise serializers.ValidationError({"config": "the scrape_configs YAML, as a string"})
        try:
            targets = import_scrape_configs(text)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(self.get_serializer(targets, many=True).data, status=status.HTTP_201_CREATED)
