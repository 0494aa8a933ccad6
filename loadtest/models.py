from __future__ import annotations

from django.conf import settings
from django.db import models

from lib.text import valid_name
from loadtest.choices import Preset, RunStatus, ThinkMode


def default_endpoints() -> list[dict[str, object]]:
    return [{"method": "GET", "path": "/healthz", "weight": 1}]


class Scenario(models.Model):
    """What load to put on which target, and the limits that stop it."""

    name = models.CharField(max_length=200, validators=[valid_name])
    preset = models.CharField(max_length=20, choices=Preset.choices, blank=True)
    target_url = models.URLField(help_text="Base URL; endpoint paths are appended.")
    endpoints = models.JSONField(default=default_endpoints)
    users = models.PositiveIntegerField(default=10)
    spawn_rate = models.FloatField(default=10, help_text="Users started per second.")
    duration_seconds = models.PositiveIntegerField(default=30)
    think_time_ms = models.PositiveIntegerField(default=0)
    think_mode = models.CharField(max_length=20, choices=ThinkMode.choices, default=ThinkMode.CONSTANT)
    throughput_per_user = models.FloatField(
        null=True, blank=True, help_text="Requests per second each user aims at (think mode constant throughput)."
    )
    request_timeout_ms = models.PositiveIntegerField(default=10_000)
    processes = models.PositiveSmallIntegerField(
        default=1, help_text="Worker processes sharing the users, for more load (at most the CPU count)."
    )
    payload_bytes = models.PositiveIntegerField(default=0, help_text="Body size for POST/PUT (Memory Pressure).")
    client_delay_ms = models.PositiveIntegerField(default=0, help_text="Injected delay per request (Network Slow).")
    max_error_rate = models.FloatField(null=True, blank=True, help_text="Stop above this share of failures (0 to 1).")
    max_p95_ms = models.FloatField(null=True, blank=True)
    max_rps = models.FloatField(null=True, blank=True, help_text="Requests per second are capped at this.")
    max_cpu_percent = models.FloatField(null=True, blank=True, help_text="Stop above this host CPU %.")
    max_memory_percent = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
