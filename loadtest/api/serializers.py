from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.choices import Role
from accounts.roles import has_role
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


class ScenarioSerializer(serializers.ModelSerializer):
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
