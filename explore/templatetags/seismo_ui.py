"""Template pieces every page shares: labels as key=value chips, numbers the formatter
(static/js/format.js) renders by unit, and metric names that open Explore with their query."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join, json_script

from explore.services import explore_url
from monitoring import topics

register = template.Library()


def _labels(labels: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


@register.simple_tag
def stream_topics() -> str:
    """The stream's topic names for the page's scripts (``SeismoStream.topics``), from their one
    home, monitoring.topics — never a copy in a template or a script."""
    return json_script(topics.for_pages(), "seismo-topics")


@register.simple_tag
def label_chips(labels: Any, empty: str = "") -> str:
    """``{'host': 'web1'}`` → chips reading host=web1 (nothing, or ``empty``, for no labels)."""
    items = sorted(_labels(labels).items())
    if not items:
        return format_html('<span class="muted">{}</span>', empty) if empty else ""
    chips = format_html_join(
        "", '<li class="chip"><span class="k">{}</span>=<span class="v">{}</span></li>', ((k, v) for k, v in items)
    )
    return format_html('<ul class="chips" aria-label="labels">{}</ul>', chips)


@register.simple_tag
def explore_link(metric: str, labels: Any = None, agg: str | None = None, text: str | None = None) -> str:
    """The metric's name as a link to Explore showing its query."""
    if not metric:
        return ""
    return format_html(
        '<a class="metric-link" href="{}" title="Open in Explore">{}</a>',
        explore_url(metric, _labels(labels), agg),
        text or metric,
    )


@register.simple_tag
def explore_href(metric: str, labels: Any = None, agg: str | None = None) -> str:
    return explore_url(metric, _labels(labels), agg) if metric else ""


def _plain(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


@register.simple_tag
def num(value: Any, unit: str = "", tag: str = "span") -> str:
    """A number the formatter renders by unit (the raw value stays in data-value)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return format_html('<{} class="num-value">—</{}>', tag, tag)
    if not math.isfinite(number):
        return format_html('<{} class="num-value">—</{}>', tag, tag)
    return format_html(
        '<{} class="num-value" data-fmt data-value="{}" data-unit="{}">{}</{}>',
        tag,
        repr(number),
        unit or "",
        _plain(number),
        tag,
    )
