from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from checks import services, statuspage
from checks.forms import CheckForm
from checks.models import Check, CheckEvent, StatusPage, StatusPageGroup, WeeklyDigest


class CheckEventInline(admin.TabularInline):
    model = CheckEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "from_state", "to_state", "reason"]
    ordering = ["-at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    form = CheckForm  # the same validation as the API and the page form (Check.clean)
    list_display = ["name", "kind", "state", "since", "interval_seconds", "enabled", "group"]
    list_filter = ["kind", "state", "enabled", "group"]
    search_fields = ["name", "target"]
    readonly_fields = ["state", "since", "last_result", "alert_rule", "token"]
    inlines = [CheckEventInline]
    actions = ["pause", "resume"]

    def save_model(self, request: HttpRequest, obj: Check, form: Any, change: bool) -> None:
        services.save_check(obj, None, request.user)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.sync_alert_rule(form.instance, form.instance.channels.all())

    def delete_model(self, request: HttpRequest, obj: Check) -> None:
        services.delete_check(obj)

    @admin.action(description="Pause the selected checks")
    def pause(self, request: HttpRequest, queryset: QuerySet[Check]) -> None:
        for check in queryset:
            services.set_paused(check, True)

    @admin.action(description="Resume the selected checks")
    def resume(self, request: HttpRequest, queryset: QuerySet[Check]) -> None:
        for check in queryset:
            services.set_paused(check, False)


class StatusPageGroupInline(admin.StackedInline):
    model = StatusPageGroup
    extra = 1
    filter_horizontal = ["checks"]


@admin.register(StatusPage)
class StatusPageAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "published"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [StatusPageGroupInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        statuspage.page_saved(form.instance, form.initial.get("slug"))


@admin.register(WeeklyDigest)
class WeeklyDigestAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "last_sent_at"]
    filter_horizontal = ["channels"]
