from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Field, QuerySet, URLField
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from alerts import evaluation, outbox
from alerts.models import (
    NOTIFICATION_FIELDS,
    Alert,
    AlertCondition,
    AlertEvent,
    AlertRule,
    DeliveryAttempt,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Silence,
)
from alerts.notifiers import validate_config
from explore.services import explore_url


class NotificationChannelForm(forms.ModelForm):
    """The API serializer's check (alerts.notifiers.validate_config): the kind's required keys
    and every URL Seismo will connect to against the outbound allowlist."""

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "config", "enabled"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind is None:
            return cleaned  # the kind field already has its error
        # An existing channel's config is not on the form (secrets are never shown again).
        field = "config" if "config" in self.fields else "kind"
        config = cleaned["config"] if "config" in self.fields else self.instance.config
        if field == "config" and "config" not in cleaned:
            return cleaned  # not JSON: the field already has its error
        try:
            validate_config(kind, config)
        except ValueError as exc:
            self.add_error(field, str(exc))
        return cleaned


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ["name", "kind", "enabled", "disabled_reason"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["disabled_reason", "created_at", "masked"]
    fields = ["name", "kind", "config", "enabled", "disabled_reason", "created_at"]
    actions = ["send_test"]

    @admin.display(description="Config (secrets masked)")
    def masked(self, obj: NotificationChannel) -> dict[str, object]:
        return obj.masked_config()

    def get_fields(self, request: HttpRequest, obj: NotificationChannel | None = None) -> list[str]:
        # An existing channel's secrets are never shown again: edit by replacing the config.
        return ["name", "kind", "masked", "enabled", "disabled_reason"] if obj else self.fields

    @admin.action(description="Send a test notification")
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        for channel in queryset:
            result = outbox.send_test(channel)
            level = messages.SUCCESS if result.status == "sent" else messages.ERROR
            self.message_user(request, f"{channel.name}: {result.status} {result.last_error}", level)


class AlertConditionInline(admin.TabularInline):
    model = AlertCondition
    extra = 0


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "metric_in_explore", "aggregation", "comparator", "critical_threshold", "severity"]
    list_display += ["enabled"]
    list_filter = ["enabled", "kind", "severity", "aggregation"]
    search_fields = ["name", "metric"]
    filter_horizontal = ["channels", "escalation_channels"]
    inlines = [AlertConditionInline]
    actions = ["enable", "disable", "preview"]

    @admin.display(description="metric", ordering="metric")
    def metric_in_explore(self, rule: AlertRule) -> str:
        """The rule's metric, opening Explore with the rule's labels and aggregation."""
        return format_html('<a href="{}">{}</a>', explore_url(rule.metric, rule.labels, rule.aggregation), rule.metric)

    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "severity", "summary", "runbook_url"]}),
        ("What to watch", {"fields": ["metric", "labels", "aggregation", "window_seconds"]}),
        (
            "Threshold",
            {"fields": ["comparator", "critical_threshold", "warning_threshold", "recovery_threshold"]},
        ),
        ("Anomaly", {"fields": ["anomaly_sensitivity", "anomaly_direction", "anomaly_history_days"]}),
        ("Timing", {"fields": ["for_seconds", "keep_firing_for_seconds", "no_data", "match"]}),
        ("Notifications", {"fields": list(NOTIFICATION_FIELDS)}),
    ]

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, URLField):
            kwargs["assume_scheme"] = "https"  # runbook links typed without a scheme
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        queryset.update(enabled=True)

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        queryset.update(enabled=False)

    @admin.action(description="Preview: would fire now?")
    def preview(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        now = timezone.now()
        for rule in queryset.prefetch_related("conditions"):
            rows = evaluation.preview(rule, now)
            breaching = [r for r in rows if r["severity"]]
            shown = "; ".join(
                f"{r['labels'] or 'all'} = {r['value']:g} {r['severity']} {r['detail']}".strip() for r in breaching[:5]
            )
            self.message_user(request, f"{rule.name}: {len(breaching)} of {len(rows)} series would fire. {shown}")


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "state", "value", "actor", "comment"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["rule", "labels", "state", "severity", "value", "started_at", "resolved_at"]
    list_filter = ["state", "severity", "rule"]
    list_select_related = ["rule"]
    inlines = [AlertEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    """Every try, so a notification that reached its receiver twice shows two attempts."""

    model = DeliveryAttempt
    fields = ["started_at", "finished_at", "outcome", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "kind", "status", "attempts", "last_error"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["channel"]
    readonly_fields = ["notification_id"]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ["matchers", "starts_at", "ends_at", "comment", "created_by"]
    readonly_fields = ["created_by"]

    def save_model(self, request: HttpRequest, obj: Silence, form: object, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["name", "matchers", "timezone", "weekdays", "start_time", "duration_minutes", "enabled", "active"]
    list_filter = ["enabled", "timezone"]
    search_fields = ["name", "comment"]

    @admin.display(boolean=True, description="Active now")
    def active(self, obj: MaintenanceWindow) -> bool:
        return obj.active_at(timezone.now())
