from django.db import models


class WidgetKind(models.TextChoices):
    TIMESERIES = "timeseries", "Time series"
    STAT = "stat", "Stat with sparkline"
    GAUGE = "gauge", "Gauge"
    TABLE = "table", "Top-N table"
    ALERT_LIST = "alert-list", "Alert list"
    LOADTEST_SUMMARY = "loadtest-summary", "Load-test summary"


# Kinds that chart a metric (the others show alerts or load-test runs and need no metric).
METRIC_KINDS = {WidgetKind.TIMESERIES, WidgetKind.STAT, WidgetKind.GAUGE, WidgetKind.TABLE}


_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


class TimeRange(models.TextChoices):
    """The range picker's presets; each value spells its own length ("5m", "1h", "7d")."""

    M5 = "5m", "Last 5 minutes"
    H1 = "1h", "Last hour"
    H6 = "6h", "Last 6 hours"
    H24 = "24h", "Last 24 hours"
    D7 = "7d", "Last 7 days"
    D30 = "30d", "Last 30 days"

    @property
    def seconds(self) -> int:
        return int(self.value[:-1]) * _UNIT_SECONDS[self.value[-1]]


class ThresholdLevel(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
