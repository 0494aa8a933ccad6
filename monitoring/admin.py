from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from monitoring.models import MASK, Collector, DailySummary, Metric, ScrapeTarget, Series


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "family", "kind", "unit", "enabled", "retention_days"]
    list_filter = ["family", "kind", "enabled"]
    list_editable = ["enabled", "retention_days"]
    search_fields = ["name", "help"]
    readonly_fields = ["created_at"]
    actions = ["enable", "disable"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Running processes cache series ids; retention, not deletion, removes data.
        return False

    @admin.action(description="Turn collection on")
    def enable(self, request: HttpRequest, queryset) -> None:
        queryset.update(enabled=True)

    @admin.action(description="Turn collection off")
    def disable(self, request: HttpRequest, queryset) -> None:
        queryset.update(enabled=False)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at"]
    list_filter = ["metric__family"]
    search_fields = ["metric__name", "labels_key"]
    list_select_related = ["metric"]
    readonly_fields = ["metric", "labels", "labels_key", "created_at"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Collector)
class CollectorAdmin(admin.ModelAdmin):
    list_display = ["family", "enabled"]
    list_editable = ["enabled"]


@admin.register(DailySummary)
class DailySummaryAdmin(admin.ModelAdmin):
    list_display = ["metric", "day", "series_count", "count", "min", "max", "avg"]
    list_filter = ["day"]
    search_fields = ["metric__name"]
    list_select_related = ["metric"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ScrapeTargetForm(forms.ModelForm):
    """Secrets are shown masked; a masked value sent back keeps the stored one."""

    url = forms.URLField(max_length=500, assume_scheme="http", help_text="http(s)://host:port/metrics")

    class Meta:
        model = ScrapeTarget
        fields = ["name", "url", "interval_seconds", "timeout_seconds", "labels", "auth", "sample_limit", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["auth"] = self.instance.masked_auth()

    def clean_auth(self) -> Any:
        auth = self.cleaned_data.get("auth") or {}
        if isinstance(auth, dict) and self.instance.pk:
            for key, value in list(auth.items()):
                if value == MASK:
                    auth[key] = self.instance.auth.get(key, "")
        return auth


@admin.register(ScrapeTarget)
class ScrapeTargetAdmin(admin.ModelAdmin):
    form = ScrapeTargetForm
    list_display = ["name", "url", "interval_seconds", "enabled", "health", "last_scrape", "last_error"]
    list_filter = ["enabled", "health"]
    search_fields = ["name", "url"]
    readonly_fields = ["health", "last_scrape", "last_duration_seconds", "last_samples", "last_error", "created_at"]
