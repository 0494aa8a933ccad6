from django.contrib import admin, messages
from django.http import HttpRequest

from monitoring.models import IngestKey


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
