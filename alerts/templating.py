"""An alert's summary from its rule's template: ``{{ value }}``, ``{{ labels.host }}`` …"""

from __future__ import annotations

import re

from alerts.choices import RuleKind
from alerts.models import AlertRule

_TEMPLATE = re.compile(r"{{\s*([a-z_.]+)\s*}}")


def render_summary(rule: AlertRule, labels: dict[str, str], value: float | None, detail: str = "") -> str:
    """``{{ value }}``, ``{{ labels.host }}``, ``{{ labels }}``, ``{{ rule }}``, ``{{ metric }}``,
    ``{{ detail }}`` (an anomaly rule's baseline)."""
    shown = "no data" if value is None else f"{value:g}"

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return shown
        if name == "rule":
            return rule.name
        if name == "metric":
            return rule.metric
        if name == "detail":
            return detail
        if name == "labels":
            return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "all series"
        if name.startswith("labels."):
            return labels.get(name[7:], "")
        return match.group(0)

    text = _TEMPLATE.sub(replace, rule.summary or "{{ rule }}")
    if detail and "{{ detail }}" not in (rule.summary or "") and rule.kind == RuleKind.ANOMALY:
        text = f"{text} ({detail})"
    return text[:500]
