"""Widget and variable validation: the one check the API, the pages, the admin and imports share."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError

from dashboards.choices import METRIC_KINDS, ThresholdLevel, WidgetKind
from dashboards.models import GRID_COLUMNS
from monitoring.choices import Aggregation
from monitoring.rules import LABEL_RE, MAX_LABELS, is_metric_name

MAX_WIDGETS = 60


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int_in(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    return value if isinstance(value, int) and low <= value <= high else None


def clean_widget(data: dict[str, Any]) -> dict[str, Any]:
    """A widget's config, checked and normalised; raises ValidationError naming each bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"widget": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    kind = data.get("kind") or WidgetKind.TIMESERIES
    if kind not in WidgetKind.values:
        errors["kind"] = [f"must be one of {', '.join(WidgetKind.values)}"]
    metric = str(data.get("metric") or "").strip()
    if kind in METRIC_KINDS and not metric:
        errors["metric"] = ["a chart needs a metric"]
    elif metric and not is_metric_name(metric):
        errors["metric"] = ["not a valid metric name (letters, digits, _ and :)"]
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        errors["labels"] = ["must be an object of label name → value"]
    else:
        bad = [k for k, v in labels.items() if not LABEL_RE.match(str(k)) or not isinstance(v, str | int | float)]
        if bad or len(labels) > MAX_LABELS:
            errors["labels"] = [f"bad label(s): {', '.join(map(str, bad))}" if bad else f"at most {MAX_LABELS} labels"]
        labels = {str(k): str(v) for k, v in labels.items()}
    aggregation = data.get("aggregation") or Aggregation.AVG
    if aggregation not in Aggregation.values:
        errors["aggregation"] = [f"must be one of {', '.join(Aggregation.values)}"]
    thresholds = data.get("thresholds") or []
    clean_thresholds: list[dict[str, Any]] = []
    if not isinstance(thresholds, list) or len(thresholds) > 10:
        errors["thresholds"] = ["must be a list of at most 10 {value, level}"]
    else:
        for item in thresholds:
            value = number(item.get("value")) if isinstance(item, dict) else None
            level = item.get("level", ThresholdLevel.WARNING) if isinstance(item, dict) else None
            if value is None or level not in ThresholdLevel.values:
                errors["thresholds"] = ["each threshold needs a number value and level warning or critical"]
                break
            clean_thresholds.append({"value": value, "level": level})
    options = data.get("options") or {}
    if not isinstance(options, dict):
        errors["options"] = ["must be an object"]
    title = str(data.get("title") or "")[:120]
    position = {}
    for field, low, high, default in (
        ("x", 0, GRID_COLUMNS - 1, 0),
        ("y", 0, 10_000, 0),
        ("w", 1, GRID_COLUMNS, 12),
        ("h", 1, 40, 6),
    ):
        raw = data.get(field, default)
        value = _int_in(raw, low, high)
        if value is None:
            errors[field] = [f"must be a whole number from {low} to {high}"]
        else:
            position[field] = value
    if "x" in position and "w" in position and position["x"] + position["w"] > GRID_COLUMNS:
        errors["w"] = [f"x + w must fit the {GRID_COLUMNS}-column grid"]
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "title": title,
        "metric": metric,
        "labels": labels,
        "aggregation": aggregation,
        "thresholds": clean_thresholds,
        "options": options,
        **position,
    }


def clean_variables(raw: Any) -> list[dict[str, str]]:
    """Dashboard variables: ``[{"name": "host", "default": ""}]`` (label names)."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > 10:
        raise ValidationError({"variables": ["must be a list of at most 10 {name, default}"]})
    out = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not LABEL_RE.match(name):
            raise ValidationError({"variables": [f"{name!r} is not a label name"]})
        default = item.get("default", "") if isinstance(item, dict) else ""
        out.append({"name": name, "default": str(default or "")})
    return out


def error_messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{k}: {' '.join(str(m) for m in v.messages) if hasattr(v, 'messages') else v}"
            for k, v in exc.message_dict.items()
        ]
    return list(exc.messages)


def error_text(exc: ValidationError) -> str:
    """A one-line message for a form error."""
    return "; ".join(error_messages(exc))
