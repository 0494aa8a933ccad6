"""Prometheus text exposition: Seismo's own state plus the last value of every recent series."""

from __future__ import annotations

from monitoring import health
from monitoring.intake import guard
from monitoring.models import Metric
from monitoring.store.query import latest_samples


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_exposition() -> str:
    lines = [
        "# HELP seismo_component_up Whether a Seismo dependency answers (1) or not (0).",
        "# TYPE seismo_component_up gauge",
    ]
    for name, state in health.component_status().items():
        lines.append(f'seismo_component_up{{component="{name}"}} {1 if state["status"] == "up" else 0}')
    refused = guard.refused_totals()
    lines += [
        "# HELP seismo_series_refused_total New series refused because their source reached its series limit.",
        "# TYPE seismo_series_refused_total counter",
    ]
    lines += [f'seismo_series_refused_total{{source="{_escape(src)}"}} {n}' for src, n in sorted(refused.items())]
    samples = latest_samples()
    meta = {m.name: m for m in Metric.objects.filter(name__in={s["metric"] for s in samples})}
    current = None
    for sample in samples:
        name = sample["metric"]
        if name != current:
            metric = meta.get(name)
            if metric is not None:
                lines.append(f"# HELP {name} {_escape(metric.help or name)}")
                lines.append(f"# TYPE {name} {metric.kind}")
            current = name
        labels = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(sample["labels"].items()))
        lines.append(f"{name}{{{labels}}} {sample['value']!r} {int(sample['ts'] * 1000)}")
    return "\n".join(lines) + "\n"
