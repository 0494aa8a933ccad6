from django.db import models

from monitoring import topics


class Family(models.TextChoices):
    SYSTEM = "system", "System"
    DATABASE = "database", "Database"
    CACHE = "cache", "Cache"
    NETWORK = "network", "Network / application"
    CELERY = "celery", "Celery"
    CUSTOM = "custom", "Custom (ingested)"


class Kind(models.TextChoices):
    GAUGE = "gauge", "Gauge"
    COUNTER = "counter", "Counter"


class Aggregation(models.TextChoices):
    """How the points of one bucket (or one alert window) become one value: the one set that
    the query API, alert rules and widgets share."""

    AVG = "avg", "Average"
    MIN = "min", "Minimum"
    MAX = "max", "Maximum"
    SUM = "sum", "Sum"
    COUNT = "count", "Count"
    LAST = "last", "Last"
    P50 = "p50", "p50"
    P95 = "p95", "p95"
    P99 = "p99", "p99"
    RATE = "rate", "Rate per second"


# Aggregations whose bucket value one live sample can stand for (a chart appends stream samples
# to such lines; a sum, count or rate of one sample would be wrong).
POINT_AGGREGATIONS = (
    Aggregation.AVG,
    Aggregation.MIN,
    Aggregation.MAX,
    Aggregation.LAST,
    Aggregation.P50,
    Aggregation.P95,
    Aggregation.P99,
)


class Cadence(models.TextChoices):
    """How often a collector runs (COLLECT_*_SECONDS). Not the storage tiers (raw, rollups)."""

    FAST = "fast", "Fast"
    MEDIUM = "medium", "Medium"
    SLOW = "slow", "Slow"


# The stream topic each family's collections are published on.
FAMILY_TOPIC = {
    Family.SYSTEM: topics.SYSTEM,
    Family.DATABASE: topics.DATABASE,
    Family.CACHE: topics.CACHE,
    Family.NETWORK: topics.NETWORK,
    Family.CELERY: topics.BASIC,
    Family.CUSTOM: topics.BASIC,
}


class Health(models.TextChoices):
    """A scrape target's state after its last scrape (Prometheus' target health)."""

    UP = "up", "Up"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"
