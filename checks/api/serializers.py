from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.models import NotificationChannel
from checks import services
from checks.models import EDITABLE_FIELDS, MASK, Check, CheckEvent
from lib.serializers import clean_as_saved
from monitoring.models import DailySummary


class CheckSerializer(serializers.ModelSerializer):
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
