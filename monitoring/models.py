from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.contrib.postgres.indexes import GinIndex
from django.db import models

from lib.crypto import EncryptedJSONField
from lib.text import valid_name
from monitoring.choices import Family, Health, Kind


class Metric(models.Model):
    """A metric name in the catalogue. Collected ones come from catalog.py; ingested ones
    are added on first sight as custom gauges."""

    name = models.CharField(max_length=200, unique=True)
    family = models.CharField(max_length=20, choices=Family.choices, default=Family.CUSTOM)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GAUGE)
    unit = models.CharField(max_length=20, blank=True)
    help = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True, help_text="Off: collectors skip it and ingest drops it.")
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Raw samples kept this many days (empty: the global default)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Series(models.Model):
    """One metric with one set of labels. Samples reference it by id."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="series")
    labels = models.JSONField(default=dict)
    # Canonical (sorted-key) JSON of labels: the ingest cache key and the uniqueness key.
    labels_key = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            # Ingest resolves (metric, labels) → series id through this unique index.
            models.UniqueConstraint(fields=["metric", "labels_key"], name="series_metric_labels_uniq"),
        ]
        indexes = [
            # Label selectors (`label.host=web-1`) filter series with labels @> {...}.
            GinIndex(fields=["labels"], name="series_labels_gin"),
        ]

    def __str__(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.metric.name}{{{inner}}}"


class Sample(models.Model):
    """A raw sample. The table is partitioned by day on ``ts`` (created in SQL by the
    migration), so retention drops whole partitions; writes go through COPY."""

    pk = models.CompositePrimaryKey("series", "ts")
    series = models.ForeignKey(Series, on_delete=models.DO_NOTHING, db_constraint=False)
    ts = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        managed = False
        db_table = "monitoring_sample"

    def __str__(self) -> str:
        return f"{self.series_id}@{self.ts.isoformat()}={self.value}"


class RollupBase(models.Model):
    """Aggregates of one series over one bucket, with a mergeable sketch for percentiles."""

    bucket = models.DateTimeField()
    count = models.BigIntegerField()
    sum = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField()
    # lib.sketch's binary form: (bucket code, count) as big-endian int32 pairs, 8 bytes a bucket.
    sketch = models.BinaryField(default=bytes)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.series_id}@{self.bucket.isoformat()}"


class Rollup1m(RollupBase):
    pk = models.CompositePrimaryKey("series", "bucket")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, db_constraint=False, related_name="+")

    class Meta:
        db_table = "monitoring_rollup_1m"
        indexes = [
            # Retention deletes and the hourly rollup scan buckets by time across all series.
            models.Index(fields=["bucket"], name="rollup1m_bucket_idx"),
        ]


class Rollup1h(RollupBase):
    pk = models.CompositePrimaryKey("series", "bucket")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, db_constraint=False, related_name="+")

    class Meta:
        db_table = "monitoring_rollup_1h"
        indexes = [
            # Retention deletes and daily summaries scan buckets by time across all series.
            models.Index(fields=["bucket"], name="rollup1h_bucket_idx"),
        ]


class Chunk(models.Model):
    """One series' samples over one hour past the hot window, compressed (monitoring.store.codec).

    The table is partitioned by day on ``hour`` (created in SQL by the migration), so retention
    drops whole partitions as it does for raw samples. The stats answer min/max/sum/count/last
    without decoding; ``sum`` adds the values one by one in time order, exactly as the raw-row
    path does, so both give the same bits.
    """

    pk = models.CompositePrimaryKey("series", "hour")
    series = models.ForeignKey(Series, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    hour = models.DateTimeField()
    first_ts = models.DateTimeField()
    last_ts = models.DateTimeField()
    count = models.IntegerField()
    min = models.FloatField()
    max = models.FloatField()
    sum = models.FloatField()
    first = models.FloatField()
    last = models.FloatField()
    timestamps = models.BinaryField()
    values = models.BinaryField()

    class Meta:
        managed = False
        db_table = "monitoring_chunk"

    def __str__(self) -> str:
        return f"{self.series_id}@{self.hour.isoformat()} ({self.count})"


class Compaction(models.Model):
    """The one row that says how far compaction got and how its last run went."""

    compacted_until = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_samples = models.BigIntegerField(default=0)
    last_run_chunks = models.IntegerField(default=0)
    last_run_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"compacted until {self.compacted_until}"

    @classmethod
    def current(cls) -> Compaction:
        state, _ = cls.objects.get_or_create(pk=1)
        return state

    def finish(self, until: datetime, samples: int, chunks: int, seconds: float, at: datetime) -> None:
        """Record a finished run; the watermark never moves back."""
        if self.compacted_until is None or until > self.compacted_until:
            self.compacted_until = until
        self.last_run_at = at
        self.last_run_samples = samples
        self.last_run_chunks = chunks
        self.last_run_seconds = seconds
        self.save()


class RollupState(models.Model):
    """How far each rollup has been computed (its watermark)."""

    name = models.CharField(max_length=20, unique=True)
    watermark = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.watermark.isoformat()}"


class DailySummary(models.Model):
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="daily_summaries")
    day = models.DateField()
    series_count = models.PositiveIntegerField()
    count = models.BigIntegerField()
    min = models.FloatField()
    max = models.FloatField()
    avg = models.FloatField()

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["metric", "day"], name="daily_summary_metric_day_uniq")]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.day}"


class Collector(models.Model):
    """A metric family's collector: on/off and tier, changed in the admin without a restart."""

    family = models.CharField(max_length=20, choices=Family.choices, unique=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["family"]

    def __str__(self) -> str:
        return f"{self.get_family_display()} ({'on' if self.enabled else 'off'})"


MASK = "•••"


class ScrapeTarget(models.Model):
    """An endpoint serving Prometheus text or OpenMetrics that Seismo scrapes (pull).

    Its samples carry ``job`` (the name) and ``instance`` (host:port), as Prometheus' do."""

    name = models.CharField(
        max_length=100, unique=True, validators=[valid_name], help_text="The job label of everything scraped here."
    )
    url = models.URLField(max_length=500, help_text="http(s)://host:port/metrics")
    interval_seconds = models.PositiveIntegerField(default=15)
    timeout_seconds = models.PositiveIntegerField(default=10)
    labels = models.JSONField(default=dict, blank=True, help_text="Extra labels on every series of this target.")
    # {"bearer": "…"} or {"username": "…", "password": "…"}; encrypted at rest, masked when read back.
    auth = EncryptedJSONField(default=dict, blank=True)
    sample_limit = models.PositiveIntegerField(
        default=50_000, help_text="A scrape serving more samples fails (like Prometheus' sample_limit)."
    )
    enabled = models.BooleanField(default=True)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN, editable=False)
    last_scrape = models.DateTimeField(null=True, blank=True, editable=False)
    last_duration_seconds = models.FloatField(null=True, blank=True, editable=False)
    last_samples = models.PositiveIntegerField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def instance(self) -> str:
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def source(self) -> str:
        """This target's name for the cardinality guard."""
        return f"scrape:{self.name}"

    def clean(self) -> None:
        from monitoring.intake.targets import validate_target  # intake imports models: avoid the cycle

        validate_target(self)

    def masked_auth(self) -> dict[str, str]:
        return {key: (MASK if key in ("bearer", "password") and value else value) for key, value in self.auth.items()}

    def record_scrape(self, *, at: datetime, duration: float, samples: int, error: str = "", note: str = "") -> None:
        """Remember a scrape's outcome (the /targets/ page and the API read these): down when it
        failed (``error``), up otherwise; ``note`` says what an up scrape could not store."""
        self.health = Health.DOWN if error else Health.UP
        self.last_scrape, self.last_duration_seconds, self.last_samples = at, duration, samples
        self.last_error = (error or note)[:2000]
        ScrapeTarget.objects.filter(pk=self.pk).update(
            health=self.health,
            last_scrape=at,
            last_duration_seconds=duration,
            last_samples=samples,
            last_error=self.last_error,
        )


class SourceSeries(models.Model):
    """A series a source (ingest key, scrape target, OTLP sender) has written: the cardinality
    guard counts these per source, and lets a source's known series through at any count."""

    source = models.CharField(max_length=200)
    # metric name + canonical labels (the series identity), known before the series exists.
    series_key = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The guard asks "which of these keys does this source already have" and counts by source.
            models.UniqueConstraint(fields=["source", "series_key"], name="source_series_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.series_key}"
