from __future__ import annotations

from django.conf import settings
from django.db import models

from dashboards.choices import TimeRange, WidgetKind
from lib.text import valid_name, valid_text
from monitoring.choices import Aggregation

GRID_COLUMNS = 24
MAX_TITLE = 120  # dashboards' and widgets' titles
MAX_DESCRIPTION = 2000


class Dashboard(models.Model):
    """A grid of widgets. Personal (owner only) unless ``shared``; the defaults have no owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="dashboards"
    )
    shared = models.BooleanField(default=False, help_text="Visible to every user with a role.")
    title = models.CharField(max_length=MAX_TITLE, validators=[valid_name])
    description = models.TextField(blank=True, max_length=MAX_DESCRIPTION, validators=[valid_text])
    time_range = models.CharField(max_length=8, choices=TimeRange.choices, default=TimeRange.H1)
    # [{"name": "host", "default": ""}]: each variable filters every widget by that label.
    variables = models.JSONField(default=list, blank=True)
    # Set on the dashboards Seismo creates on first run, so creating them again is a no-op.
    default_key = models.CharField(max_length=40, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            # The list page and API: "shared ones, or mine" (visible_dashboards).
            models.Index(fields=["owner", "shared"], name="dashboard_owner_shared"),
        ]

    def __str__(self) -> str:
        return self.title

    def rename(self, title: str) -> None:
        self.title = title
        self.save(update_fields=["title", "updated_at"])


class Widget(models.Model):
    """One panel: a metric + label filters + aggregation, placed at x/y/w/h on a 24-column grid."""

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="widgets")
    kind = models.CharField(max_length=20, choices=WidgetKind.choices, default=WidgetKind.TIMESERIES)
    title = models.CharField(max_length=MAX_TITLE, blank=True, validators=[valid_name])
    metric = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    aggregation = models.CharField(max_length=8, choices=Aggregation.choices, default=Aggregation.AVG)
    # [{"value": 80, "level": "warning"}, ...], drawn as bands on charts and colours on stats.
    thresholds = models.JSONField(default=list, blank=True)
    # Kind-specific extras (e.g. {"unit": "%", "max": 100, "limit": 10}).
    options = models.JSONField(default=dict, blank=True)
    x = models.PositiveSmallIntegerField(default=0)
    y = models.PositiveSmallIntegerField(default=0)
    w = models.PositiveSmallIntegerField(default=12)
    h = models.PositiveSmallIntegerField(default=6)

    class Meta:
        # Widgets are always read per dashboard in layout order; the FK index serves that.
        ordering = ["y", "x", "id"]

    def __str__(self) -> str:
        return self.title or self.metric or self.kind

    @property
    def display_title(self) -> str:
        return self.title or self.metric or self.get_kind_display()

    def move(self, x: int, y: int, w: int, h: int) -> None:
        self.x, self.y, self.w, self.h = x, y, w, h
