"""Widget and variable validation: the one check the API, the pages, the admin and imports share."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from dashboards.choices import METRIC_KINDS, ThresholdLevel, WidgetKind
from dashboards.models import GRID_COLUMNS, MAX_TITLE
from lib.text import valid_name
from monitoring.choices import Aggregation
from monitoring.rules import LABEL_RE, MAX_LABEL_VALUE, MAX_LABELS, is_metric_name

MAX_WIDGETS = 60
MAX_THRESHOLDS = 10
MAX_VARIABLES = 10
# A widget's place on the grid: field → (lowest, highest, default); x + w must fit GRID_COLUMNS.
POSITION = {"x": (0, GRID_COLUMNS - 1, 0), "y": (0, 10_000, 0), "w": (1, GRID_COLUMNS, 12), "h": (1, 40, 6)}


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
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
    if "kind" not in errors and kind in METRIC_KINDS and not metric:
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
    if not isinstance(thresholds, list) or len(thresholds) > MAX_THRESHOLDS:
        errors["thresholds"] = [f"must be a list of at most {MAX_THRESHOLDS} {{value, level}}"]
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
    title = str(data.get("title") or "")[:MAX_TITLE]
    position = {}
    for field, (low, high, default) in POSITION.items():
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
    if not isinstance(raw, list) or len(raw) > MAX_VARIABLES:
        raise ValidationError({"variables": [f"must be a list of at most {MAX_VARIABLES} {{name, default}}"]})
    out = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not LABEL_RE.match(name):
            raise ValidationError({"variables": [f"{name!r} is not a label name"]})
        default = item.get("default", "") if isinstance(item, dict) else ""
        out.append({"name": name, "default": str(default or "")})
    return out


# The JSON doors (the API, imports) take JSON types exactly as their request schemas state them
# (dashboards.api.serializers); the checks below come first there, then the cleaning above.


def _json_number(value: Any) -> bool:
    return isinstance(value, int | float) and number(value) is not None


def _stored_text(value: Any) -> bool:
    """A string PostgreSQL's jsonb can hold (no NUL)."""
    return isinstance(value, str) and "\x00" not in value


def _label_value(value: Any) -> bool:
    return _stored_text(value) and len(value) <= MAX_LABEL_VALUE


def _label_name(name: Any) -> bool:
    return isinstance(name, str) and LABEL_RE.fullmatch(name) is not None


def _title_ok(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_TITLE:
        return False
    try:
        valid_name(value)
    except ValidationError:
        return False
    return True


def _json_int(value: Any) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


def _threshold_ok(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and _json_number(item.get("value"))
        and item.get("level", "warning") in ThresholdLevel.values
    )


_JSON_WIDGET_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "kind": (lambda v: v in WidgetKind.values, "one of the widget kinds"),
    "title": (_title_ok, f"a name of at most {MAX_TITLE} characters"),
    "metric": (lambda v: v == "" or is_metric_name(v), "a metric name"),
    "labels": (
        lambda v: isinstance(v, dict) and all(_label_name(k) and _label_value(x) for k, x in v.items()),
        "an object of label name → string",
    ),
    "aggregation": (lambda v: v in Aggregation.values, "one of the aggregations"),
    "thresholds": (lambda v: isinstance(v, list) and all(_threshold_ok(t) for t in v), "a list of {value, level}"),
    "options": (
        lambda v: (
            isinstance(v, dict)
            and all(
                _stored_text(k) and (_stored_text(x) or isinstance(x, bool) or _json_number(x)) for k, x in v.items()
            )
        ),
        "an object of name → string, number or boolean",
    ),
    **{field: (_json_int, "a whole number") for field in POSITION},
}


def check_json_widget(data: Any) -> None:
    """A widget as JSON: each given field of its JSON type (no numeric strings, no nulls)."""
    if not isinstance(data, dict):
        raise ValidationError({"widget": ["must be an object"]})
    errors = {
        name: [message] for name, (ok, message) in _JSON_WIDGET_FIELDS.items() if name in data and not ok(data[name])
    }
    if errors:
        raise ValidationError(errors)


def check_json_variables(raw: Any) -> None:
    """Variables as JSON: a list of {"name": label name, "default": string}."""
    ok = isinstance(raw, list) and all(
        isinstance(item, dict) and _label_name(item.get("name")) and _label_value(item.get("default", ""))
        for item in raw
    )
    if not ok:
        raise ValidationError({"variables": ['a list of {"name": label name, "default": string}']})


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
