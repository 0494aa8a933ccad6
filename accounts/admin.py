from django.contrib import admin

from accounts.forms import AdminLoginForm
from accounts.models import ApiToken

# The admin's login goes through the same throttle as the pages and the API; a lockout says so.
admin.site.login_form = AdminLoginForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at"]
    fields = ["user", "name", "prefix", "created_at", "expires_at"]

    def has_add_permission(self, request) -> bool:
        # Tokens are issued through the API so the raw value is shown to its owner only.
        return False
