from django.contrib import admin, messages
from django.http import HttpRequest

from monitoring.models import Collector, DailySummary, IngestKey, Metric, Series


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at"]
    fields = ["name", "is_active", "prefix", "created_at"]

    def save_model(self, request: HttpRequest, obj: IngestKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw = IngestKey.issue(obj.name)
        obj.pk = created.pk
        obj.key_hash, obj.prefix, obj.created_at = created.key_hash, created.prefix, created.created_at
        # The raw key is shown once, to the admin who created it; only its hash is stored.
        messages.warning(request, f"Ingest key for {obj.name}: {raw} — copy it now, it is not shown again.")


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
