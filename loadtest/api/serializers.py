from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.choices import Role
from accounts.roles import has_role
from lib.serializers import STRICT_JSON_FIELD_MAPPING
from loadtest import validation
from loadtest.choices import ThinkMode
from loadtest.models import LoadTestRun, RunSecond, Scenario
from loadtest.services import apply_preset
from loadtest.validation import FIELD_CHECKS, cross_field_errors

MASK = "•••"


def masked_endpoints(endpoints: Any, request: Any) -> Any:
    """Endpoint headers (often credentials) shown to editors and admins only."""
    if not isinstance(endpoints, list) or (request is not None and has_role(request.user, Role.EDITOR)):
        return endpoints
    return [
        {**e, "headers": {k: MASK for k in e["headers"]}} if isinstance(e, dict) and e.get("headers") else e
        for e in endpoints
    ]


ENDPOINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {
        "method": {"type": "string", "pattern": validation.METHOD_RE.pattern, "default": "GET"},
        "path": {"type": "string", "pattern": validation.PATH_RE.pattern},
        "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": validation.MAX_WEIGHT, "default": 1},
        "headers": {
            "type": "object",
            "maxProperties": validation.MAX_HEADERS,
            "propertyNames": {"pattern": validation.HEADER_NAME_RE.pattern},
            "additionalProperties": {"type": "string", "pattern": validation.HEADER_VALUE_RE.pattern},
        },
        "body": {"type": ["string", "null"], "maxLength": validation.MAX_BODY, "pattern": validation.BODY_RE.pattern},
    },
}
# loadtest.validation's rules as JSON Schema: the fields DRF's own schema cannot describe, and
# constant throughput's rate.
SCENARIO_RULES: dict[str, Any] = {
    "properties": {
        "target_url": {
            "type": "string",
            "maxLength": Scenario._meta.get_field("target_url").max_length,
            "pattern": validation.TARGET_URL_RE.pattern,
            "description": "Base URL; endpoint paths are appended.",
        },
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "maxItems": validation.MAX_ENDPOINTS,
            "items": ENDPOINT_SCHEMA,
        },
        "throughput_per_user": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": validation.MAX_THROUGHPUT_PER_USER,
            "description": "Requests per second each user aims at (think mode constant throughput).",
        },
        "processes": {
            "type": "integer",
            "minimum": 1,
            "maximum": validation.MAX_PROCESSES,
            "description": "Worker processes sharing the users, for more load (at most the CPU count).",
        },
    },
    "if": {"required": ["think_mode"], "properties": {"think_mode": {"const": ThinkMode.CONSTANT_THROUGHPUT.value}}},
    "then": {"required": ["throughput_per_user"], "properties": {"throughput_per_user": {"type": "number"}}},
}


class ScenarioSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_JSON_FIELD_MAPPING
    request_rules = SCENARIO_RULES

    class Meta:
        model = Scenario
        exclude = ["created_by"]
        read_only_fields = ["created_at"]
        # The same checks the model's clean() (and so the admin) runs, reported per field.
        extra_kwargs = {name: {"validators": [check]} for name, check in FIELD_CHECKS.items()}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and data.get("preset"):
            data = apply_preset(dict(data))
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The scenario as it will be saved: the instance's values under what this request changes.
        fields = Scenario._meta.concrete_fields
        current = {f.name: getattr(self.instance, f.name) for f in fields} if self.instance is not None else {}
        if errors := cross_field_errors({**current, **attrs}):
            raise serializers.ValidationError(errors)
        return attrs

    def to_representation(self, instance: Scenario) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["endpoints"] = masked_endpoints(data.get("endpoints"), self.context.get("request"))
        return data


class RunSecondSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunSecond
        fields = ["second", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms"]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoadTestRun
        exclude = ["created_by"]
        read_only_fields = [f.name for f in LoadTestRun._meta.fields]

    def to_representation(self, instance: LoadTestRun) -> dict[str, Any]:
        data = super().to_representation(instance)
        if isinstance(data.get("config"), dict):
            config = data["config"]
            endpoints = masked_endpoints(config.get("endpoints"), self.context.get("request"))
            data["config"] = {**config, "endpoints": endpoints}
        return data


class RunDetailSerializer(RunSerializer):
    seconds = RunSecondSerializer(many=True, read_only=True)


class RunCreateSerializer(serializers.Serializer):
    """``{"scenario": id}`` or the scenario's fields inline."""

    scenario = serializers.PrimaryKeyRelatedField(queryset=Scenario.objects.all(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("scenario") is None:
            inline = ScenarioSerializer(data={"name": "inline", **self.initial_data})
            inline.is_valid(raise_exception=True)
            attrs["scenario"] = Scenario(**inline.validated_data)
        return attrs
