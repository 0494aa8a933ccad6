from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts import services
from alerts.models import Alert, AlertEvent, AlertRule, Notification, NotificationChannel, Silence
from monitoring.services import aggregate_window


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
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
            result = services.send_test(channel)
            level = messages.SUCCESS if result.status == "sent" else messages.ERROR
            self.message_user(request, f"{channel.name}: {result.status} {result.last_error}", level)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "metric", "aggregation", "comparator", "critical_threshold", "severity", "enabled"]
    list_filter = ["enabled", "severity", "aggregation"]
    search_fields = ["name", "metric"]
    filter_horizontal = ["channels"]
    actions = ["enable", "disable", "preview"]

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        queryset.update(enabled=True)

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        queryset.update(enabled=False)

    @admin.action(description="Preview: would fire now?")
    def preview(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        for rule in queryset:
            results = aggregate_window(rule.metric, rule.labels or None, rule.window_seconds, rule.aggregation)
            breaching = [(s.labels, v) for s, v in results if rule.breach(v)]
            self.message_user(
                request, f"{rule.name}: {len(breaching)} of {len(results)} series would fire {breaching[:5]}"
            )


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


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "kind", "status", "attempts", "last_error"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["channel"]

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
