from __future__ import annotations

import os
from typing import Any

from rest_framework import serializers

from loadtest.choices import ThinkMode
from loadtest.models import LoadTestRun, RunSecond, Scenario
from loadtest.services import apply_preset

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scenario
        exclude = ["created_by"]
        read_only_fields = ["created_at"]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and data.get("preset"):
            data = apply_preset(dict(data))
        return super().to_internal_value(data)

    def validate_endpoints(self, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value or len(value) > 100:
            raise serializers.ValidationError("a list of 1 to 100 endpoints")
        for index, endpoint in enumerate(value):
            if not isinstance(endpoint, dict) or not str(endpoint.get("path", "")).startswith("/"):
                raise serializers.ValidationError(f"endpoint {index}: needs a path starting with /")
            if str(endpoint.get("method", "GET")).upper() not in METHODS:
                raise serializers.ValidationError(f"endpoint {index}: unknown method")
            weight = endpoint.get("weight", 1)
            if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
                raise serializers.ValidationError(f"endpoint {index}: weight must be a positive number")
        return value

    def validate_users(self, value: int) -> int:
        if not 1 <= value <= 10_000:
            raise serializers.ValidationError("between 1 and 10,000")
        return value

    def validate_duration_seconds(self, value: int) -> int:
        if not 1 <= value <= 24 * 3600:
            raise serializers.ValidationError("between 1 second and 24 hours")
        return value

    def validate_max_error_rate(self, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1:
            raise serializers.ValidationError("a share between 0 and 1")
        return value

    def validate_processes(self, value: int) -> int:
        cores = os.cpu_count() or 1
        if not 1 <= value <= cores:
            raise serializers.ValidationError(f"between 1 and {cores} (this machine's CPU count)")
        return value

    def validate_throughput_per_user(self, value: float | None) -> float | None:
        if value is not None and not 0 < value <= 1000:
            raise serializers.ValidationError("more than 0 and at most 1,000 requests a second")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def current(name: str) -> Any:
            return attrs[name] if name in attrs else getattr(self.instance, name, None)

        if current("think_mode") == ThinkMode.CONSTANT_THROUGHPUT and not current("throughput_per_user"):
            raise serializers.ValidationError(
                {"throughput_per_user": "required when think_mode is constant_throughput"}
            )
        return attrs


class RunSecondSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunSecond
        fields = ["second", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms"]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoadTestRun
        exclude = ["created_by"]
        read_only_fields = [f.name for f in LoadTestRun._meta.fields]


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
