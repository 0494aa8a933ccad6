from django.contrib import admin, messages
from django.http import HttpRequest

from accounts.forms import AdminLoginForm
from accounts.models import ApiToken, IngestKey

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
