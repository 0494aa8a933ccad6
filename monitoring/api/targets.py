"""Scrape targets API: admins write, everyone with a role reads (secrets masked)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.choices import Role
from lib.openapi import bounds
from lib.outbound import HTTP_URL_RE
from lib.parsers import LimitedJSONParser, LimitedYAMLParser
from lib.serializers import STRICT_JSON_FIELD_MAPPING, StrictCharField, clean_as_saved
from monitoring.intake.targets import (
    AUTH_SCHEMA,
    MAX_INTERVAL_SECONDS,
    MAX_SAMPLE_LIMIT,
    SCRAPE_CONFIGS_SCHEMA,
    import_scrape_configs,
)
from monitoring.models import MASK, ScrapeTarget
from monitoring.rules import LABEL_RE, labels_schema


@extend_schema_field({"type": "string", "maxLength": 500, "pattern": HTTP_URL_RE.pattern})
class TargetUrlField(StrictCharField):
    """http(s)://host[:port][/path]; its address must be one the outbound allowlist permits."""


@extend_schema_field({**labels_schema(), "propertyNames": {"pattern": LABEL_RE.pattern, "not": {"const": "__name__"}}})
class TargetLabelsField(serializers.JSONField):
    """Extra labels on every series of the target (``__name__`` is not one)."""


@extend_schema_field(AUTH_SCHEMA)
class TargetAuthField(serializers.JSONField):
    """{}, {"bearer": "…"} or {"username": "…", "password": "…"} (masked when read back)."""


class ScrapeTargetSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_JSON_FIELD_MAPPING
    url = TargetUrlField(max_length=500)
    labels = TargetLabelsField(required=False)
    auth = TargetAuthField(required=False)

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
        extra_kwargs = {
            "interval_seconds": bounds(1, MAX_INTERVAL_SECONDS, f"between 1 and {MAX_INTERVAL_SECONDS} seconds"),
            "timeout_seconds": bounds(1, MAX_INTERVAL_SECONDS, "at least 1 second and at most the interval"),
            "sample_limit": bounds(1, MAX_SAMPLE_LIMIT, f"between 1 and {MAX_SAMPLE_LIMIT}"),
        }

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
    """Scrape targets. `timeout_seconds` must be at most `interval_seconds`, and the URL must lead
    to an address the outbound allowlist permits, looked up when the target is saved (400 naming
    the field otherwise)."""

    queryset = ScrapeTarget.objects.all()
    serializer_class = ScrapeTargetSerializer
    write_role = Role.ADMIN
    filterset_fields = ["enabled", "health"]

    @extend_schema(
        request={"application/json": SCRAPE_CONFIGS_SCHEMA, "application/yaml": SCRAPE_CONFIGS_SCHEMA},
        responses={201: ScrapeTargetSerializer(many=True)},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[LimitedJSONParser, LimitedYAMLParser],
        pagination_class=None,  # the created targets, all of them, unfiltered
        filter_backends=[],
    )
    def import_config(self, request: Request) -> Response:
        """Create targets from a Prometheus `scrape_configs` document (static_configs): the YAML of
        prometheus.yml as it is (`Content-Type: application/yaml`) or the same as JSON. Each target's
        address must be one the outbound allowlist permits, and each target name (the job's, or
        `<job>-<host:port>` for a job of several) new to the document (400 otherwise)."""
        try:
            targets = import_scrape_configs(request.data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(self.get_serializer(targets, many=True).data, status=status.HTTP_201_CREATED)
