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
    for name, state in health.snapshot().items():
        lines.append(f'seismo_component_up{{component="{name}"}} {1 if state["status"] == "up" else 0}')
    refused = guard.refused_totals()
    lines += [
        "# HELP seismo_series_refused_total New series refused because their source reached its series limit.",
        "# TYPE seismo_series_refused_total counter",
    ]
    lines += [f'seismo_series_refused_total{{source="{_escape(src)}"}} {n}' for src, n in sorted(refused.items())]
    lines += [
        "# HELP seismo_restarts_total Times the launcher restarted a Seismo process that died.",
        "# TYPE seismo_restarts_total counter",
    ]
    for process, count in sorted(health.restarts()["counts"].items()):
        lines.append(f'seismo_restarts_total{{process="{_escape(process)}"}} {count}')
    samples = latest_samples()
    meta = {m.name: m for m in Metric.objects.filter(name__in={s["metric"] for s in samples})}
    families = _families(samples)
    # A histogram's or summary's series are one family: written together, under one TYPE.
    samples.sort(key=lambda sample: (families.get(sample["metric"], (sample["metric"], ""))[0], sample["metric"]))
    current = None
    for sample in samples:
        name = sample["metric"]
        family, kind = families.get(name, (name, ""))
        if family != current:
            metric = meta.get(name)
            if kind or metric is not None:
                lines.append(f"# HELP {family} {_escape((metric.help if metric else '') or family)}")
                lines.append(f"# TYPE {family} {kind or metric.kind}")
            current = family
        labels = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(sample["labels"].items()))
        lines.append(f"{name}{{{labels}}} {sample['value']!r} {int(sample['ts'] * 1000)}")
    return "\n".join(lines) + "\n"


def _families(samples: list[dict]) -> dict[str, tuple[str, str]]:
    """metric name → (family, "histogram" | "summary") for the series of histograms (``_bucket``
    with ``le``) and summaries (``quantile``) among ``samples``, with their ``_sum``/``_count``."""
    names = {sample["metric"] for sample in samples}
    out: dict[str, tuple[str, str]] = {}
    for sample in samples:
        name, labels = sample["metric"], sample["labels"]
        if name.endswith("_bucket") and "le" in labels:
            base, kind = name[: -len("_bucket")], "histogram"
        elif "quantile" in labels and name not in out:
            base, kind = name, "summary"
        else:
            continue
        for member in (name, f"{base}_sum", f"{base}_count"):
            if member in names:
                out[member] = (base, kind)
    return out
