from django.contrib import admin

from dashboards.models import Dashboard, Widget


class WidgetInline(admin.TabularInline):
    model = Widget
    extra = 0
    fields = ["kind", "title", "metric", "labels", "aggregation", "thresholds", "x", "y", "w", "h"]


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "shared", "time_range", "updated_at"]
    list_filter = ["shared"]
    search_fields = ["title"]
    list_select_related = ["owner"]
    inlines = [WidgetInline]
