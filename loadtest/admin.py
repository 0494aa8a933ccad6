from django.contrib import admin

from loadtest.models import LoadTestRun, RunSecond, Scenario


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "preset", "target_url", "users", "duration_seconds"]
    list_filter = ["preset"]
    search_fields = ["name", "target_url"]


class RunSecondInline(admin.TabularInline):
    model = RunSecond
    extra = 0
    can_delete = False
    readonly_fields = ["second", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms"]


@admin.register(LoadTestRun)
class LoadTestRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "scenario", "status", "stop_reason", "requests", "failures", "rps", "p95_ms", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in LoadTestRun._meta.fields]
    inlines = [RunSecondInline]

    def has_add_permission(self, request) -> bool:
        return False
