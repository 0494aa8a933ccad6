"""Dashboard changes: create, update, widgets, layout, export/import/duplicate, and what a page's
script is handed (widget configs, chart settings)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction

from dashboards.choices import METRIC_KINDS, TimeRange, WidgetKind
from dashboards.models import GRID_COLUMNS, MAX_DESCRIPTION, Dashboard, Widget
from dashboards.ranges import range_seconds
from dashboards.validation import (
    MAX_WIDGETS,
    check_json_variables,
    check_json_widget,
    clean_variables,
    clean_widget,
    error_messages,
)
from monitoring import topics
from monitoring.rules import MAX_POINTS

EXPORT_FORMAT = "seismo-dashboard/1"


@transaction.atomic
def create_dashboard(owner: Any, fields: dict[str, Any], widgets: list[dict[str, Any]] | None = None) -> Dashboard:
    """A new dashboard owned by ``owner`` with already-validated fields and widgets."""
    dashboard = Dashboard.objects.create(owner=owner, **fields)
    Widget.objects.bulk_create([Widget(dashboard=dashboard, **clean_widget(w)) for w in widgets or []])
    return dashboard


@transaction.atomic
def update_dashboard(
    dashboard: Dashboard, fields: dict[str, Any], widgets: list[dict[str, Any]] | None = None
) -> Dashboard:
    """Change a dashboard's fields; a given widget list replaces all widgets (PUT semantics)."""
    for name, value in fields.items():
        setattr(dashboard, name, value)
    dashboard.save()
    if widgets is not None:
        dashboard.widgets.all().delete()
        Widget.objects.bulk_create([Widget(dashboard=dashboard, **clean_widget(w)) for w in widgets])
    return dashboard


def next_row(dashboard: Dashboard) -> int:
    """The first free row below every widget, where a new widget goes."""
    rows = [w.y + w.h for w in dashboard.widgets.all()]
    return max(rows, default=0)


def add_widget(dashboard: Dashboard, data: dict[str, Any]) -> Widget:
    """Validate and append a widget (at the bottom unless ``y`` is given)."""
    if dashboard.widgets.count() >= MAX_WIDGETS:
        raise ValidationError({"widget": [f"a dashboard holds at most {MAX_WIDGETS} widgets"]})
    if "y" not in data:
        data = {**data, "y": next_row(dashboard)}
    return Widget.objects.create(dashboard=dashboard, **clean_widget(data))


def update_widget(widget: Widget, data: dict[str, Any]) -> Widget:
    """Change a widget's config (its position stays unless given)."""
    merged = {**widget_config(widget), **data}
    for field, value in clean_widget(merged).items():
        setattr(widget, field, value)
    widget.save()
    return widget


def save_layout(dashboard: Dashboard, items: Any) -> int:
    """Persist gridstack positions ``[{"id", "x", "y", "w", "h"}]`` in one query per changed widget."""
    if not isinstance(items, list):
        raise ValidationError({"layout": ["must be a list of {id, x, y, w, h}"]})
    widgets = {w.pk: w for w in dashboard.widgets.all()}
    changed = []
    for item in items:
        if not isinstance(item, dict) or item.get("id") not in widgets:
            wanted = item.get("id") if isinstance(item, dict) else item
            raise ValidationError({"layout": [f"unknown widget {wanted!r}"]})
        widget = widgets[item["id"]]
        position = clean_widget({**widget_config(widget), **{k: item.get(k) for k in ("x", "y", "w", "h")}})
        widget.move(position["x"], position["y"], position["w"], position["h"])
        changed.append(widget)
    Widget.objects.bulk_update(changed, ["x", "y", "w", "h"])
    return len(changed)


def widget_config(widget: Widget) -> dict[str, Any]:
    return {
        "kind": widget.kind,
        "title": widget.title,
        "metric": widget.metric,
        "labels": widget.labels,
        "aggregation": widget.aggregation,
        "thresholds": widget.thresholds,
        "options": widget.options,
        "x": widget.x,
        "y": widget.y,
        "w": widget.w,
        "h": widget.h,
    }


def widget_payload(widgets: list[Widget], *, as_chart: bool = False) -> list[dict[str, Any]]:
    """What the page's script needs per widget (``as_chart``: the history page's line chart)."""
    out = []
    for widget in widgets:
        config = {"id": widget.pk, **widget_config(widget)}
        if as_chart and widget.kind in METRIC_KINDS:
            config["kind"] = WidgetKind.TIMESERIES
        out.append(config)
    return out


def export_dashboard(dashboard: Dashboard) -> dict[str, Any]:
    """A self-contained JSON document for keeping a dashboard in git (no ids, no owner)."""
    return {
        "format": EXPORT_FORMAT,
        "title": dashboard.title,
        "description": dashboard.description,
        "time_range": dashboard.time_range,
        "variables": dashboard.variables,
        "widgets": [widget_config(w) for w in dashboard.widgets.all()],
    }


@transaction.atomic
def import_dashboard(document: Any, owner: Any, *, shared: bool = False) -> Dashboard:
    """Create a dashboard from an exported document; raises ValidationError naming what is wrong."""
    if not isinstance(document, dict):
        raise ValidationError({"document": ["must be a JSON object (an exported dashboard)"]})
    if document.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise ValidationError({"format": [f"expected {EXPORT_FORMAT!r}"]})
    fields = {
        "title": document.get("title"),
        "description": document.get("description", ""),
        "time_range": document.get("time_range", TimeRange.H1),
    }
    if not isinstance(fields["title"], str):
        raise ValidationError({"title": ["a title of 1 to 120 characters is required"]})
    if wrong := [name for name, value in fields.items() if not isinstance(value, str)]:
        raise ValidationError({name: ["must be a string"] for name in wrong})
    if len(fields["description"]) > MAX_DESCRIPTION:  # a TextField's max_length binds forms only
        raise ValidationError({"description": [f"at most {MAX_DESCRIPTION} characters"]})
    widgets = document.get("widgets", [])
    if not isinstance(widgets, list) or len(widgets) > MAX_WIDGETS:
        raise ValidationError({"widgets": [f"must be a list of at most {MAX_WIDGETS} widgets"]})
    cleaned = []
    for index, widget in enumerate(widgets):
        try:
            check_json_widget(widget)
            cleaned.append(clean_widget(widget))
        except ValidationError as exc:
            raise ValidationError({f"widgets[{index}]": error_messages(exc)}) from exc
    variables = document.get("variables", [])
    check_json_variables(variables)
    dashboard = Dashboard(owner=owner, shared=shared, variables=clean_variables(variables), **fields)
    dashboard.full_clean(exclude=["owner", "variables"])  # title, description, time range: the model's rules
    dashboard.save()
    Widget.objects.bulk_create([Widget(dashboard=dashboard, **c) for c in cleaned])
    return dashboard


def duplicate_dashboard(dashboard: Dashboard, owner: Any) -> Dashboard:
    """A personal copy (with all widgets) of a dashboard the user can see."""
    document = export_dashboard(dashboard)
    document["title"] = f"{dashboard.title} (copy)"[:120]
    return import_dashboard(document, owner, shared=False)


def export_query(widget: Widget, span: dict[str, Any]) -> str:
    """The query string of the export API for what a widget shows over ``span``."""
    params = {"metric": widget.metric, **{f"label.{k}": v for k, v in widget.labels.items()}}
    params |= {"from": int(span["from"]), "to": int(span["to"]), "step": span["step"], "agg": widget.aggregation}
    return urlencode(params)


def chart_settings() -> dict[str, Any]:
    """What the chart scripts read from the server instead of keeping copies: the point limit,
    each preset range's length, the topics live metric batches arrive on and the grid's width."""
    return {
        "max_points": MAX_POINTS,
        "ranges": range_seconds(),
        "topics": list(topics.METRIC_TOPICS),
        "grid_columns": GRID_COLUMNS,
    }
