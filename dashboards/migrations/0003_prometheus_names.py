"""Widgets on metrics renamed to Prometheus conventions (base units; latency as a histogram)
follow the new names; thresholds in milliseconds become seconds."""

from django.db import migrations

# old name → (new name, factor on thresholds, aggregation to use or None to keep).
RENAMES = {
    "system_cpu_count": ("system_cpus", 1.0, None),
    "redis_ping_ms": ("redis_ping_seconds", 0.001, None),
    "celery_task_runtime_ms": ("celery_task_runtime_seconds", 0.001, None),
    "http_db_time_per_request_ms": ("http_db_time_per_request_seconds", 0.001, None),
    "pg_slow_statement_ms": ("pg_slow_statement_seconds", 0.001, None),
    "http_request_duration_p50_ms": ("http_request_duration_seconds", 0.001, "p50"),
    "http_request_duration_p95_ms": ("http_request_duration_seconds", 0.001, "p95"),
    "http_request_duration_p99_ms": ("http_request_duration_seconds", 0.001, "p99"),
}


def forwards(apps, schema_editor):
    Widget = apps.get_model("dashboards", "Widget")
    for old, (new, factor, aggregation) in RENAMES.items():
        for widget in Widget.objects.filter(metric=old):
            widget.metric = new
            if aggregation:
                widget.aggregation = aggregation
            widget.thresholds = [
                {**band, "value": band["value"] * factor} if isinstance(band.get("value"), int | float) else band
                for band in widget.thresholds or []
                if isinstance(band, dict)
            ]
            options = dict(widget.options or {})
            if factor != 1.0 and options.get("unit") == "ms":
                options["unit"] = "s"
            widget.options = options
            widget.title = widget.title.replace(" (ms)", "").replace(" ms)", ")")
            widget.save()


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0002_printable_names")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
