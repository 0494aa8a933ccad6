from datetime import timedelta
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from alerts.models import Alert

# The time presets of the alerts page's filter bar (and `?since=` on the API).
SINCE_PRESETS = {"1h": ("Last hour", 3600), "24h": ("Last 24 hours", 86400), "7d": ("Last 7 days", 604800)}
SINCE_PRESETS["30d"] = ("Last 30 days", 2592000)


class AlertFilter(django_filters.FilterSet):
    """Shared by the API and the /alerts/ history page."""

    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    since = django_filters.ChoiceFilter(
        choices=[(k, label) for k, (label, _) in SINCE_PRESETS.items()], method="filter_since", label="Started"
    )

    class Meta:
        model = Alert
        fields = ["rule", "state", "severity"]

    def filter_since(self, queryset: QuerySet[Alert], name: str, value: Any) -> QuerySet[Alert]:
        return queryset.filter(started_at__gte=timezone.now() - timedelta(seconds=SINCE_PRESETS[value][1]))
