"""Rules on metrics renamed to Prometheus conventions (base units; latency as a histogram)
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


def _scaled(value, factor):
    return None if value is None else value * factor


def forwards(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertCondition = apps.get_model("alerts", "AlertCondition")
    for old, (new, factor, aggregation) in RENAMES.items():
        for rule in AlertRule.objects.filter(metric=old):
            rule.metric = new
            rule.critical_threshold = _scaled(rule.critical_threshold, factor)
            rule.warning_threshold = _scaled(rule.warning_threshold, factor)
            rule.recovery_threshold = _scaled(rule.recovery_threshold, factor)
            if aggregation:
                rule.aggregation = aggregation
            rule.save()
        for condition in AlertCondition.objects.filter(metric=old):
            condition.metric = new
            condition.threshold = condition.threshold * factor
            if aggregation:
                condition.aggregation = aggregation
            condition.save()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0005_printable_names")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
