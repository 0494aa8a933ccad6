from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.models import NotificationChannel
from checks import services
from checks.choices import (
    DNS_RECORD_TYPES,
    HTTP_METHODS,
    MAX_INTERVAL_SECONDS,
    MAX_RETRIES,
    MAX_TIMEOUT_SECONDS,
    MIN_INTERVAL_SECONDS,
    CheckKind,
)
from checks.models import EDITABLE_FIELDS, MASK, Check, CheckEvent
from checks.probes.base import JSON_PATH, MAX_DNS_NAME, RESOLVER, STORED_TEXT, TARGETS
from lib.serializers import STRICT_JSON_FIELD_MAPPING, clean_as_saved
from monitoring.models import DailySummary

# Check.clean()'s rules (and its probes') as JSON Schema: per kind, the target, what to expect
# and how to ask; bounds of the numbers. Timeout at most the interval is a rule between two
# values no schema states (clean() answers 400).
_TEXT = {"type": "string", "pattern": STORED_TEXT.pattern}
_NON_EMPTY = {**_TEXT, "minLength": 1}
_NOTHING = {"type": "object", "maxProperties": 0}


def _expect(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties}


_EXPECT = {
    CheckKind.HTTP: _expect(
        status={
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": "integer", "minimum": 100, "maximum": 599},
                    {"type": "string", "pattern": "^[1-5][xX][xX]$"},
                ]
            },
        },
        keyword=_NON_EMPTY,
        keyword_absent=_NON_EMPTY,
        json={
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "pattern": JSON_PATH.pattern},
                "equals": {"anyOf": [_TEXT, {"type": ["number", "boolean", "null"]}]},
            },
        },
    ),
    CheckKind.TCP: _expect(banner=_NON_EMPTY),
    CheckKind.DNS: _expect(
        type={"type": "string", "enum": list(DNS_RECORD_TYPES)},
        contains=_TEXT,
        resolver={"type": "string", "pattern": RESOLVER.pattern},
    ),
    CheckKind.TLS: _expect(min_days_left={"type": "number", "minimum": 0, "maximum": 3650}),
    CheckKind.PING: _expect(
        count={"type": "integer", "minimum": 1, "maximum": 20},
        max_loss_ratio={"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    ),
    CheckKind.HEARTBEAT: _NOTHING,
}
_HEADER_TEXT = "^[^\\x00\\r\\n]*$"
_HTTP_REQUEST = _expect(
    method={"type": "string", "enum": list(HTTP_METHODS)},
    headers={
        "type": "object",
        "propertyNames": {"minLength": 1, "pattern": _HEADER_TEXT},
        "additionalProperties": {"type": "string", "pattern": _HEADER_TEXT},
    },
    body=_TEXT,
    follow_redirects={"type": "boolean"},
    verify_tls={"type": "boolean"},
)


def _kind_rule(kind: str) -> dict[str, Any]:
    target: dict[str, Any] = {"type": "string", "pattern": TARGETS[kind].pattern}
    if kind == CheckKind.DNS:
        target["maxLength"] = MAX_DNS_NAME
    return {
        "required": [] if kind == CheckKind.HEARTBEAT else ["target"],
        "properties": {
            "kind": {"const": kind},
            "target": target,
            "expect": _EXPECT[kind],
            "request": _HTTP_REQUEST if kind == CheckKind.HTTP else _NOTHING,
        },
    }


CHECK_RULES: dict[str, Any] = {
    "properties": {
        "interval_seconds": {
            "type": "integer",
            "minimum": MIN_INTERVAL_SECONDS,
            "maximum": MAX_INTERVAL_SECONDS,
            "description": "How often it runs (heartbeat: the job's period).",
        },
        "timeout_seconds": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_TIMEOUT_SECONDS,
            "description": "An attempt taking longer fails; at most the interval (but for heartbeats).",
        },
        "retries": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_RETRIES,
            "description": "Consecutive failed attempts before the check is down (1: the first failure).",
        },
        "sla_target": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 100,
            "description": "Monthly uptime target in percent (for the SLA report).",
        },
    },
    "oneOf": [_kind_rule(kind) for kind in CheckKind.values],
}


class CheckSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_JSON_FIELD_MAPPING
    request_rules = CHECK_RULES
    channels = serializers.PrimaryKeyRelatedField(many=True, queryset=NotificationChannel.objects.all(), required=False)
    ping_url = serializers.SerializerMethodField(help_text="heartbeat: the URL the job calls (GET or POST; …/fail).")

    class Meta:
        model = Check
        fields = [
            "id",
            *EDITABLE_FIELDS,
            "state",
            "since",
            "last_result",
            "ping_url",
            "alert_rule",
            "created_at",
        ]
        read_only_fields = ["state", "since", "last_result", "alert_rule", "created_at"]

    def get_ping_url(self, check: Check) -> str | None:
        if check.kind != "heartbeat":
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(check.ping_path) if request else check.ping_path

    def to_representation(self, instance: Check) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["request"] = instance.masked_request()
        return data

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and not isinstance(data.get("channels", []), list):  # DRF iterates a dict's keys
            raise serializers.ValidationError({"channels": ["a list of channel ids"]})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = attrs.get("request")
        if self.instance is not None and isinstance(request, dict) and isinstance(request.get("headers"), dict):
            # Masked header values sent back unchanged keep their stored value.
            stored = self.instance.request.get("headers", {})
            request["headers"] = {
                k: stored.get(k, "") if isinstance(v, str) and v.startswith(MASK) else v
                for k, v in request["headers"].items()
            }
        clean_as_saved(self, attrs, skip=("channels",))
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Check:
        channels = validated_data.pop("channels", [])
        user = self.context["request"].user if "request" in self.context else None
        return services.save_check(Check(**validated_data), channels, user)

    def update(self, instance: Check, validated_data: dict[str, Any]) -> Check:
        channels = validated_data.pop("channels", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return services.save_check(instance, channels)


class CheckEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckEvent
        fields = ["at", "from_state", "to_state", "reason"]


class IncidentSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    duration_seconds = serializers.FloatField()


class UptimeSerializer(serializers.Serializer):
    uptime = serializers.FloatField(allow_null=True, help_text="0…1 over the counted time; null: nothing counted.")
    downtime_seconds = serializers.FloatField()
    excluded_maintenance_seconds = serializers.FloatField()
    counted_seconds = serializers.FloatField()
    incidents = IncidentSerializer(many=True)
    sla_target = serializers.FloatField()
    sla_met = serializers.BooleanField(allow_null=True)
    mttr_seconds = serializers.FloatField(allow_null=True)


class DailySummarySerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="metric.name")

    class Meta:
        model = DailySummary
        fields = ["metric", "day", "series_count", "count", "min", "max", "avg"]
        read_only_fields = fields
