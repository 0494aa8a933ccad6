from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from dashboards import permissions, services, validation
from dashboards.choices import WidgetKind
from dashboards.models import Dashboard, Widget
from lib.serializers import STRICT_FIELD_MAPPING, StrictBooleanField
from monitoring.choices import Aggregation


def _django_to_drf(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class WidgetSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=WidgetKind.choices, default=WidgetKind.TIMESERIES)
    aggregation = serializers.ChoiceField(choices=Aggregation.choices, default=Aggregation.AVG)

    class Meta:
        model = Widget
        fields = ["id", "kind", "title", "metric", "labels", "aggregation", "thresholds", "options", "x", "y", "w", "h"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            return validation.clean_widget(attrs)
        except DjangoValidationError as exc:
            raise _django_to_drf(exc) from exc


class DashboardSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_FIELD_MAPPING
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    widgets = WidgetSerializer(many=True, required=False)
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
            return validation.clean_variables(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["variables"]) from exc

    def validate_widgets(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > validation.MAX_WIDGETS:
            raise serializers.ValidationError(f"at most {validation.MAX_WIDGETS} widgets")
        return value

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
