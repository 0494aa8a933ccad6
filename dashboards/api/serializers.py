from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dashboards import permissions, services, validation
from dashboards.choices import METRIC_KINDS, ThresholdLevel, TimeRange, WidgetKind
from dashboards.models import GRID_COLUMNS, MAX_DESCRIPTION, MAX_TITLE, Dashboard, Widget
from lib.openapi import NAME_PATTERN
from lib.serializers import STRICT_FIELD_MAPPING, StrictBooleanField
from lib.text import TEXT_FORBIDDEN
from monitoring.choices import Aggregation
from monitoring.rules import LABEL_RE, MAX_LABEL_VALUE, MAX_LABELS, NAME_RE

# dashboards.validation's rules as JSON Schema (request schemas of widgets, variables, imports).
_METRIC = {"type": "string", "pattern": NAME_RE.pattern}
_TITLE = {"type": "string", "maxLength": MAX_TITLE}
_NO_NUL = "^[^\\x00]*$"  # what PostgreSQL's jsonb can store
_LEVELS = list(ThresholdLevel.values)
_LABEL_VALUE = {"type": "string", "maxLength": MAX_LABEL_VALUE, "pattern": _NO_NUL}
WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": list(WidgetKind.values), "default": WidgetKind.TIMESERIES.value},
        "title": {**_TITLE, "anyOf": [{"pattern": NAME_PATTERN}, {"maxLength": 0}]},
        "metric": {"anyOf": [_METRIC, {"const": ""}]},
        "labels": {
            "type": "object",
            "maxProperties": MAX_LABELS,
            "propertyNames": {"pattern": LABEL_RE.pattern},
            "additionalProperties": _LABEL_VALUE,
        },
        "aggregation": {"type": "string", "enum": list(Aggregation.values), "default": Aggregation.AVG.value},
        "thresholds": {
            "type": "array",
            "maxItems": validation.MAX_THRESHOLDS,
            "items": {
                "type": "object",
                "required": ["value"],
                "properties": {"value": {"type": "number"}, "level": {"type": "string", "enum": _LEVELS}},
            },
        },
        "options": {
            "type": "object",
            "propertyNames": {"pattern": _NO_NUL},
            "additionalProperties": {
                "anyOf": [{"type": "string", "pattern": _NO_NUL}, {"type": ["number", "boolean"]}]
            },
        },
        **{
            field: {"type": "integer", "minimum": low, "maximum": high, "default": default}
            for field, (low, high, default) in validation.POSITION.items()
        },
    },
    # x + w must fit the grid: a rule between two values no schema states (refused with a 400).
    "description": f"A widget; x + w is at most {GRID_COLUMNS} (the grid's columns).",
    # A chart needs a metric (a widget without a kind is a time series).
    "if": {"anyOf": [{"not": {"required": ["kind"]}}, {"properties": {"kind": {"enum": sorted(METRIC_KINDS)}}}]},
    "then": {"required": ["metric"], "properties": {"metric": _METRIC}},
}
VARIABLES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": validation.MAX_VARIABLES,
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": LABEL_RE.pattern},
            "default": _LABEL_VALUE,
        },
    },
}
# What services.import_dashboard takes: an exported document.
DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "format": {"const": services.EXPORT_FORMAT},
        "title": {**_TITLE, "pattern": NAME_PATTERN},
        "description": {
            "type": "string",
            "maxLength": MAX_DESCRIPTION,
            "pattern": f"^[^{TEXT_FORBIDDEN.pattern[1:-1]}]*$",
        },
        "time_range": {"type": "string", "enum": list(TimeRange.values)},
        "variables": VARIABLES_SCHEMA,
        "widgets": {"type": "array", "maxItems": validation.MAX_WIDGETS, "items": WIDGET_SCHEMA},
    },
}
# The import's body: {"dashboard": document, "shared": bool} (ImportSerializer), or the document itself.
IMPORT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "required": ["dashboard"],
            "properties": {"dashboard": DOCUMENT_SCHEMA, "shared": {"type": "boolean", "default": False}},
        },
        {**DOCUMENT_SCHEMA, "not": {"required": ["dashboard"]}},
    ]
}


def _django_to_drf(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


@extend_schema_field(VARIABLES_SCHEMA)
class VariablesField(serializers.JSONField):
    """``[{"name": "host", "default": ""}]``: each variable filters every widget by that label."""


class WidgetSerializer(serializers.ModelSerializer):
    """Reads a widget through ``validation`` alone (its JSON types, then ``clean_widget``; DRF's
    fields would coerce); its request schema is ``WIDGET_SCHEMA``."""

    # kind and aggregation keep the ChoiceFields' enums (named components, one per choice set)
    request_rules = {
        **{k: v for k, v in WIDGET_SCHEMA.items() if k != "type"},
        "properties": {k: v for k, v in WIDGET_SCHEMA["properties"].items() if k not in ("kind", "aggregation")},
    }
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=WidgetKind.choices, default=WidgetKind.TIMESERIES)
    aggregation = serializers.ChoiceField(choices=Aggregation.choices, default=Aggregation.AVG)

    class Meta:
        model = Widget
        fields = ["id", "kind", "title", "metric", "labels", "aggregation", "thresholds", "options", "x", "y", "w", "h"]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            validation.check_json_widget(data)
            return validation.clean_widget(data)
        except DjangoValidationError as exc:
            raise _django_to_drf(exc) from exc


class DashboardSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_FIELD_MAPPING
    request_rules = {"allOf": [{"properties": {"widgets": {"maxItems": validation.MAX_WIDGETS}}}]}
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    variables = VariablesField(required=False)
    widgets = WidgetSerializer(many=True, required=False, max_length=validation.MAX_WIDGETS)
    can_edit = serializers.SerializerMethodField()

    class Meta:
        model = Dashboard
        fields = [
            "id",
            "title",
            "description",
            "shared",
            "time_range",
            "variables",
            "owner",
            "can_edit",
            "widgets",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_can_edit(self, obj: Dashboard) -> bool:
        return permissions.can_edit(self.context["request"].user, obj)

    def validate_variables(self, value: Any) -> list[dict[str, str]]:
        try:
            validation.check_json_variables(value)
            return validation.clean_variables(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["variables"]) from exc

    def create(self, validated: dict[str, Any]) -> Dashboard:
        widgets = validated.pop("widgets", [])
        return services.create_dashboard(self.context["request"].user, validated, widgets)

    def update(self, instance: Dashboard, validated: dict[str, Any]) -> Dashboard:
        widgets = validated.pop("widgets", None)
        return services.update_dashboard(instance, validated, widgets)


class LayoutItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    x = serializers.IntegerField(min_value=0)
    y = serializers.IntegerField(min_value=0)
    w = serializers.IntegerField(min_value=1)
    h = serializers.IntegerField(min_value=1)


class LayoutSerializer(serializers.Serializer):
    layout = LayoutItemSerializer(many=True)


class ImportSerializer(serializers.Serializer):
    """An exported dashboard document; ``shared`` makes the new dashboard visible to everyone."""

    dashboard = serializers.DictField(help_text="The document GET /api/v1/dashboards/{id}/export/ returned.")
    shared = StrictBooleanField(default=False)
