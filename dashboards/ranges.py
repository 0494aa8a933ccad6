"""Time ranges: a page's ``?range=`` / ``?from=&to=`` as a span and the query step it needs."""

from __future__ import annotations

import math
import time
from typing import Any

from dashboards.choices import TimeRange
from dashboards.validation import number
from monitoring.rules import MAX_POINTS


def resolve_range(params: Any, default: str) -> dict[str, Any]:
    """``?range=1h`` or ``?from=&to=`` (epoch seconds) → {"range", "from", "to", "step"}."""
    now = time.time()
    preset = params.get("range") or default
    start = number(params.get("from"))
    end = number(params.get("to"))
    if start is not None and end is not None and 0 < start < end:
        preset = "custom"
    else:
        if preset not in TimeRange.values:
            preset = default if default in TimeRange.values else TimeRange.H1
        end, start = now, now - TimeRange(preset).seconds
    return {"range": preset, "from": start, "to": end, "step": step_for(start, end)}


def step_for(start: float, end: float) -> int:
    """The query step that keeps a series at or under MAX_POINTS points."""
    return max(1, math.ceil((end - start) / MAX_POINTS))


def range_seconds() -> dict[str, int]:
    """Each preset's length, for the page scripts (they slide a preset range with the clock)."""
    return {r.value: r.seconds for r in TimeRange}
