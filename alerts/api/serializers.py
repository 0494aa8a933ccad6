from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.choices import Role
from accounts.roles import has_role
from alerts.choices import RuleKind
from alerts.models import (
    EDITOR_SILENCE_MAX,
    MAX_MATCHER_VALUE,
    MAX_MATCHERS,
    NOTIFICATION_FIELDS,
    Alert,
    AlertCondition,
    AlertEvent,
    AlertRule,
    MaintenanceWindow,
    NotificationChannel,
    Silence,
    valid_weekdays,
    validate_matchers,
)
from alerts.notifiers import config_rules, validate_config
from lib.openapi import NAME_PATTERN, bounds
from lib.outbound import WEB_LINK_RE
from lib.serializers import (
    STRICT_FIELD_MAPPING,
    STRICT_JSON_FIELD_MAPPING,
    StrictCharField,
    StrictFloatField,
    clean_as_saved,
    ids_of,
)
from monitoring.rules import LABEL_RE, NAME_RE, label_problem, labels_schema


class NotificationChannelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_JSON_FIELD_MAPPING

    @property
    def request_rules(self) -> dict[str, Any]:
        return config_rules()  # on demand: the Apprise schemes need Apprise loaded

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
            validate_config(kind, config)
        except ValueError as exc:
            raise serializers.ValidationError({"config": str(exc)}) from None
        return attrs

    def to_representation(self, instance: NotificationChannel) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["config"] = instance.masked_config()
        return data


# The schema shows these (pattern, minimum / maximum); DRF enforces them.
SELECTOR_KWARGS: dict[str, dict[str, Any]] = {
    "metric": {"validators": [RegexValidator(NAME_RE, "not a metric name")]},
    "window_seconds": bounds(1, 86400, "between 1 and 86400 seconds"),
}


@extend_schema_field(labels_schema())
class LabelMatchersField(serializers.JSONField):
    """Label name → value, as a series' labels are (``monitoring.rules.label_problem``)."""


class SelectorValidation:
    """Checks shared by rules and their conditions: a metric, its label matchers, a window."""

    serializer_field_mapping = STRICT_JSON_FIELD_MAPPING

    def validate_labels(self, value: Any) -> dict[str, str]:
        problem = label_problem(value)
        if problem:
            raise serializers.ValidationError(f"labels: {problem[1]}")
        return value


# A threshold rule (the default kind) needs a critical threshold (AlertRule.clean).
RULE_KIND_RULES = {
    "oneOf": [
        {
            "required": ["critical_threshold"],
            "properties": {"kind": {"const": RuleKind.THRESHOLD.value}, "critical_threshold": {"type": "number"}},
        },
        {"required": ["kind"], "properties": {"kind": {"const": RuleKind.ANOMALY.value}}},
    ]
}


@extend_schema_field({"type": "number", "exclusiveMinimum": 0})
class SensitivityField(StrictFloatField):
    """Deviations from the baseline, above 0."""


@extend_schema_field({"type": "array", "items": {"type": "string", "pattern": LABEL_RE.pattern}})
class GroupByField(serializers.JSONField):
    """Label names that split notification groups."""


@extend_schema_field({"type": "string", "maxLength": 200, "pattern": WEB_LINK_RE.pattern})  # blank: its own branch
class RunbookUrlField(StrictCharField):
    """An http(s) link (empty: none)."""


class AlertConditionSerializer(SelectorValidation, serializers.ModelSerializer):
    labels = LabelMatchersField(required=False, help_text='Label matchers, e.g. {"host": "web-1"}')

    class Meta:
        model = AlertCondition
        fields = ["metric", "labels", "aggregation", "window_seconds", "comparator", "threshold"]
        extra_kwargs = SELECTOR_KWARGS


class AlertRuleSerializer(SelectorValidation, serializers.ModelSerializer):
    channels = ids_of(NotificationChannel.objects.all(), required=False)
    escalation_channels = ids_of(NotificationChannel.objects.all(), required=False)
    conditions = AlertConditionSerializer(many=True, required=False, max_length=10)
    labels = LabelMatchersField(required=False, help_text='Label matchers, e.g. {"host": "web-1"}')
    anomaly_sensitivity = SensitivityField(required=False)
    group_by = GroupByField(required=False)
    runbook_url = RunbookUrlField(
        required=False, allow_blank=True, max_length=200, validators=[RegexValidator(WEB_LINK_RE, "an http(s) link")]
    )
    request_rules = RULE_KIND_RULES

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "metric",
            "labels",
            "aggregation",
            "window_seconds",
            "comparator",
            "critical_threshold",
            "warning_threshold",
            "recovery_threshold",
            "keep_firing_for_seconds",
            "for_seconds",
            "no_data",
            "match",
            "conditions",
            "anomaly_sensitivity",
            "anomaly_direction",
            "anomaly_history_days",
            "severity",
            "summary",
            "runbook_url",
            *NOTIFICATION_FIELDS,
            "enabled",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {**SELECTOR_KWARGS, "anomaly_history_days": bounds(1, 90, "between 1 and 90 days")}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        clean_as_saved(self, attrs, skip=("channels", "escalation_channels", "conditions"))
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> AlertRule:
        conditions = validated_data.pop("conditions", [])
        rule = super().create(validated_data)
        AlertCondition.objects.bulk_create([AlertCondition(rule=rule, **c) for c in conditions])
        return rule

    @transaction.atomic
    def update(self, instance: AlertRule, validated_data: dict[str, Any]) -> AlertRule:
        conditions = validated_data.pop("conditions", None)
        rule = super().update(instance, validated_data)
        if conditions is not None:  # the list replaces the rule's conditions
            rule.conditions.all().delete()
            AlertCondition.objects.bulk_create([AlertCondition(rule=rule, **c) for c in conditions])
        return rule


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_MATCHERS,
        "propertyNames": {"pattern": LABEL_RE.pattern},
        "additionalProperties": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_MATCHER_VALUE,
            "pattern": NAME_PATTERN,
        },
    }
)
class MatchersField(serializers.JSONField):
    """Label name → value, as ``validate_matchers`` checks them (``alertname`` is a label name too)."""


@extend_schema_field({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}})
class WeekdaysField(serializers.JSONField):
    """Weekday numbers, 0 (Monday) to 6 (Sunday)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list):  # JSON Schema's integers include 1.0
            data = [int(d) if isinstance(d, float) and d.is_integer() else d for d in data]
        return super().to_internal_value(data)


# At least one matcher, or an explicit match_all without any (validate_matchers).
MATCHER_RULES = {
    "oneOf": [
        {"required": ["matchers"], "properties": {"matchers": {"minProperties": 1}, "match_all": {"const": False}}},
        {"required": ["match_all"], "properties": {"match_all": {"const": True}, "matchers": {"maxProperties": 0}}},
    ]
}


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_FIELD_MAPPING
    request_rules = MATCHER_RULES
    matchers = MatchersField(required=False, help_text="Labels to match (or set match_all).")
    timezone = serializers.ChoiceField(choices=sorted(available_timezones()), default="UTC")
    weekdays = WeekdaysField(
        required=False, validators=[valid_weekdays], help_text="0 = Monday … 6 = Sunday; empty: every day."
    )

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "matchers",
            "match_all",
            "timezone",
            "weekdays",
            "start_time",
            "duration_minutes",
            "enabled",
            "comment",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {"duration_minutes": bounds(1, 7 * 1440, "between 1 minute and 7 days")}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        matchers = attrs.get("matchers", getattr(self.instance, "matchers", {}))
        match_all = attrs.get("match_all", getattr(self.instance, "match_all", False))
        try:
            validate_matchers(matchers, bool(match_all))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class SilenceSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_FIELD_MAPPING
    request_rules = MATCHER_RULES
    matchers = MatchersField(
        required=False,
        help_text='Labels that must all match, e.g. {"host": "web-1"}; the key \'alertname\' matches the rule name.',
    )

    class Meta:
        model = Silence
        fields = ["id", "matchers", "match_all", "starts_at", "ends_at", "comment", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {f: attrs.get(f, getattr(self.instance, f, None)) for f in ("matchers", "match_all", "starts_at")}
        merged["ends_at"] = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        merged["matchers"] = merged["matchers"] if merged["matchers"] is not None else {}
        merged["match_all"] = bool(merged["match_all"])
        merged["starts_at"] = merged["starts_at"] or timezone.now()
        try:
            Silence(**merged).clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        request = self.context.get("request")
        if request is not None and not has_role(request.user, Role.ADMIN):
            if merged["match_all"]:
                raise serializers.ValidationError({"match_all": "Only admins may silence every alert."})
            if merged["ends_at"] - merged["starts_at"] > EDITOR_SILENCE_MAX:
                raise serializers.ValidationError({"ends_at": "Editors may silence for at most 24 hours."})
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
            "id",
            "rule",
            "rule_name",
            "labels",
            "state",
            "severity",
            "value",
            "summary",
            "started_at",
            "fired_at",
            "acknowledged_at",
            "ack_expires_at",
            "escalated_at",
            "resolved_at",
            "events",
        ]
        read_only_fields = fields


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AcknowledgeSerializer(CommentSerializer):
    expires_in_minutes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=30 * 1440,
        help_text="The acknowledgement lapses after this long (default: the rule's ack_expiry_minutes; 0: never).",
    )
