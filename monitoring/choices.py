from django.db import models


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


class Tier(models.TextChoices):
    FAST = "fast", "Fast"
    MEDIUM = "medium", "Medium"
    SLOW = "slow", "Slow"


# The stream topic each family's collections are published on.
FAMILY_TOPIC = {
    Family.SYSTEM: "system-metrics",
    Family.DATABASE: "database-metrics",
    Family.CACHE: "cache-metrics",
    Family.NETWORK: "network-metrics",
    Family.CELERY: "basic-metrics",
    Family.CUSTOM: "basic-metrics",
}
