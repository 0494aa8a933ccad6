from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from lib.text import valid_name
from loadtest.choices import Preset, RunStatus, ThinkMode
from loadtest.tally import Tally
from loadtest.validation import MAX_DURATION_SECONDS, MAX_USERS, validate_scenario


def bounded(low: float, high: float) -> list[MinValueValidator | MaxValueValidator]:
    """Every scenario number has a range (one home; the admin and the API both check it)."""
    return [MinValueValidator(low), MaxValueValidator(high)]


def default_endpoints() -> list[dict[str, object]]:
    return [{"method": "GET", "path": "/healthz", "weight": 1}]


class Scenario(models.Model):
    """What load to put on which target, and the limits that stop it."""

    name = models.CharField(max_length=200, validators=[valid_name])
    preset = models.CharField(max_length=20, choices=Preset.choices, blank=True)
    target_url = models.URLField(help_text="Base URL; endpoint paths are appended.")
    endpoints = models.JSONField(default=default_endpoints)
    users = models.PositiveIntegerField(default=10, validators=bounded(1, MAX_USERS))
    spawn_rate = models.FloatField(default=10, validators=bounded(0.1, 10_000), help_text="Users started per second.")
    duration_seconds = models.PositiveIntegerField(default=30, validators=bounded(1, MAX_DURATION_SECONDS))
    think_time_ms = models.PositiveIntegerField(default=0, validators=bounded(0, 3_600_000))
    think_mode = models.CharField(max_length=20, choices=ThinkMode.choices, default=ThinkMode.CONSTANT)
    throughput_per_user = models.FloatField(
        null=True, blank=True, help_text="Requests per second each user aims at (think mode constant throughput)."
    )
    request_timeout_ms = models.PositiveIntegerField(default=10_000, validators=bounded(1, 120_000))
    processes = models.PositiveSmallIntegerField(
        default=1, help_text="Worker processes sharing the users, for more load (at most the CPU count)."
    )
    payload_bytes = models.PositiveIntegerField(
        default=0, validators=bounded(0, 10 * 1024 * 1024), help_text="Body size for POST/PUT (Memory Pressure)."
    )
    client_delay_ms = models.PositiveIntegerField(
        default=0, validators=bounded(0, 60_000), help_text="Injected delay per request (Network Slow)."
    )
    max_error_rate = models.FloatField(
        null=True, blank=True, validators=bounded(0, 1), help_text="Stop above this share of failures (0 to 1)."
    )
    max_p95_ms = models.FloatField(null=True, blank=True, validators=bounded(0, 3_600_000))
    max_rps = models.FloatField(
        null=True, blank=True, validators=bounded(0.1, 1_000_000), help_text="Requests per second are capped at this."
    )
    max_cpu_percent = models.FloatField(
        null=True, blank=True, validators=bounded(0, 100), help_text="Stop above this host CPU %."
    )
    max_memory_percent = models.FloatField(null=True, blank=True, validators=bounded(0, 100))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # The run later runs of this scenario are compared against (marked on a run's page).
    baseline_run = models.ForeignKey(
        "LoadTestRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The API's limits, for every door that saves through a ModelForm (the admin)."""
        validate_scenario({f.name: getattr(self, f.name) for f in self._meta.concrete_fields})

    def mark_baseline(self, run: LoadTestRun) -> None:
        """``run`` (one of this scenario's) becomes what later runs are compared against."""
        self.baseline_run = run
        self.save(update_fields=["baseline_run"])


class LoadTestRun(models.Model):
    scenario = models.ForeignKey(Scenario, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    config = models.JSONField(help_text="The scenario as it was when the run started.")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    stop_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    processes = models.PositiveSmallIntegerField(default=1, help_text="How many processes generated the load.")
    requests = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    rps = models.FloatField(default=0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    max_ms = models.FloatField(null=True, blank=True)
    bytes_received = models.PositiveBigIntegerField(default=0)
    failures_by_kind = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} [{self.status}]"

    # Lifecycle: queued → running → finished / stopped / failed; queued → stopped. The first
    # two steps are claimed in the database, so two workers (or a worker and a user) never both win.

    def start(self) -> bool:
        """Claim a queued run for this worker; False when it was taken or stopped meanwhile."""
        claimed = LoadTestRun.objects.filter(pk=self.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=timezone.now()
        )
        self.refresh_from_db()
        return claimed == 1

    def cancel_if_queued(self) -> bool:
        """Stop a run that has not started yet (it never will); False once it is running or over."""
        cancelled = LoadTestRun.objects.filter(pk=self.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.STOPPED, stop_reason="stopped by a user before it started", finished_at=timezone.now()
        )
        self.refresh_from_db()
        return cancelled == 1

    def shards_started(self, epoch: float, processes: int) -> None:
        """The load began at ``epoch`` (the shards' common start) from ``processes`` processes."""
        self.started_at, self.processes = datetime.fromtimestamp(epoch, UTC), processes
        self.save(update_fields=["started_at", "processes"])

    def fail(self, reason: str) -> None:
        self.status, self.stop_reason, self.finished_at = RunStatus.FAILED, reason[:300], timezone.now()
        self.save()

    def finish(self, tally: Tally, seconds: float, failures_by_kind: dict[str, Any], stop_reason: str) -> None:
        """The run ended (stopped when ``stop_reason`` says why): store its totals."""
        self.status = RunStatus.STOPPED if stop_reason else RunStatus.FINISHED
        self.stop_reason, self.finished_at = stop_reason, timezone.now()
        self.requests, self.failures, self.bytes_received = tally.requests, tally.failures, tally.bytes
        self.rps = tally.requests / max(seconds, 0.001)
        self.p50_ms, self.p95_ms, self.p99_ms = (tally.percentile_ms(p) for p in (50, 95, 99))
        self.max_ms = tally.percentile_ms(100)
        self.failures_by_kind = failures_by_kind
        self.save()


class RunSecond(models.Model):
    """One second of a run: what the live charts and comparisons read."""

    run = models.ForeignKey(LoadTestRun, on_delete=models.CASCADE, related_name="seconds")
    second = models.PositiveIntegerField()
    users = models.PositiveIntegerField()
    requests = models.PositiveIntegerField()
    failures = models.PositiveIntegerField()
    p50_ms = models.FloatField(null=True)
    p95_ms = models.FloatField(null=True)
    p99_ms = models.FloatField(null=True)

    class Meta:
        ordering = ["run", "second"]
        constraints = [models.UniqueConstraint(fields=["run", "second"], name="runsecond_run_second_uniq")]

    def __str__(self) -> str:
        return f"{self.run_id}@{self.second}s"
