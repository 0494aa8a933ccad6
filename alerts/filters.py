import django_filters

from alerts.models import Alert


class AlertFilter(django_filters.FilterSet):
    """Shared by the API and the /alerts/ history page."""

    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["rule", "state", "severity"]
