from django.contrib import admin

from dashboards.forms import WIDGET_ADMIN_FIELDS, WidgetAdminForm
from dashboards.models import Dashboard, Widget


class WidgetInline(admin.TabularInline):
    model = Widget
    form = WidgetAdminForm
    extra = 0
    fields = WIDGET_ADMIN_FIELDS


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "shared", "time_range", "updated_at"]
    list_filter = ["shared"]
    search_fields = ["title"]
    list_select_related = ["owner"]
    inlines = [WidgetInline]
