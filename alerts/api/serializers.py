from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.models import Alert, AlertEvent, AlertRule, NotificationChannel, Silence
from alerts.notifiers import REGISTRY
from lib.outbound import OutboundRefusedError, check_url
from monitoring.services import LABEL_RE, NAME_RE


class NotificationChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationChannel
        fields = ["id", "name", "kind", "config", "enabled", "disabled_reason", "created_at"]
        read_only_fields = ["disabled_reason", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        config = attrs.get("config", getattr(self.instance, "config", None))
        if not isinstance(config, dict):
            raise serializers.ValidationError({"config": "must be an object"})
        if self.instance is not None and "config" in attrs:
            # Masked secrets sent back unchanged keep their stored value.
            for key, value in list(config.items()):
                if isinstance(value, str) and value.startswith("•••"):
                    config[key] = self.instance.config.get(key, "")
        try:
            REGISTRY[kind].validate(config)
        except ValueError as exc:
            raise serializers.ValidationError({"config": str(exc)}) from None
        for key in ("webhook_url", "url"):
            if kind != "apprise" and config.get(key):
                try:
                    check_url(config[key])
                except OutboundRefusedError as exc:
                    raise serializers.ValidationError({"config": f"{key}: {exc}"}) from None
        return attrs

    def to_representation(self, instance: NotificationChannel) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["config"] = instance.masked_config()
        return data


class AlertRuleSerializer(serializers.ModelSerializer):
    channels = serializers.PrimaryKeyRelatedField(many=True, queryset=NotificationChannel.objects.all(), required=False)

    class Meta:
        model = AlertRule
        fields = [
            "id", "name", "metric", "labels", "aggregation", "window_seconds", "comparator", "critical_threshold",
            "warning_threshold", "recovery_threshold", "for_seconds", "no_data", "severity", "summary",
            "runbook_url", "channels", "enabled", "created_at",
        ]  # fmt: skip
        read_only_fields = ["created_at"]

    def validate_metric(self, value: str) -> str:
        if not NAME_RE.match(value):
            raise serializers.ValidationError("not a metric name")
        return value

    def validate_labels(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and LABEL_RE.match(k) and isinstance(v, str) for k, v in value.items()
        ):
            raise serializers.ValidationError("labels must be an object of label name → string")
        return value

    def validate_window_seconds(self, value: int) -> int:
        if not 1 <= value <= 86400:
            raise serializers.ValidationError("between 1 and 86400 seconds")
        return value


class SilenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Silence
        fields = ["id", "matchers", "starts_at", "ends_at", "comment", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        matchers = attrs.get("matchers", getattr(self.instance, "matchers", {}))
        if not isinstance(matchers, dict) or not matchers or not all(isinstance(v, str) for v in matchers.values()):
            raise serializers.ValidationError({"matchers": "a non-empty object of label → value"})
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": "must be after starts_at"})
        return attrs


class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = ["at", "state", "value", "actor", "comment"]


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    events = AlertEventSerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "rule", "rule_name", "labels", "state", "severity", "value", "summary", "started_at",
            "fired_at", "acknowledged_at", "resolved_at", "events",
        ]  # fmt: skip
        read_only_fields = fields


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
