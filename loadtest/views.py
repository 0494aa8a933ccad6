"""Pages: scenarios and runs, and one run's live page. Thin: services do the work."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.roles import has_role
from lib.realtime import series_topic
from loadtest import services
from loadtest.choices import RunStatus
from loadtest.models import LoadTestRun, Scenario
from monitoring import topics

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def index(request: HttpRequest) -> HttpResponse:
    """Scenarios and runs; the runs table follows `loadtest-progress` frames live."""
    context = {
        "scenarios": Scenario.objects.all()[:100],
        "runs": LoadTestRun.objects.select_related("scenario")[:50],
        "stream_topics": {"progress": topics.LOADTEST_PROGRESS},
    }
    return render(request, "loadtest/index.html", context)


def _summary(run: LoadTestRun, stopping: bool = False) -> dict[str, Any]:
    """The run's figures: stored totals once it ended, the seconds recorded so far while it runs."""
    live = run.status in LIVE
    so_far = run.seconds.aggregate(requests=Sum("requests"), failures=Sum("failures")) if live else {}
    return {
        "run": run,
        "live": live,
        "stopping": stopping,
        "requests": (so_far.get("requests") or 0) if live else run.requests,
        "failures": (so_far.get("failures") or 0) if live else run.failures,
    }


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: charts fed by the stored seconds, then by `loadtest-progress` frames as it runs."""
    run = get_object_or_404(LoadTestRun.objects.select_related("scenario"), pk=pk)
    if request.htmx:
        return render(request, "loadtest/partials/run_summary.html", _summary(run))
    seconds = list(run.seconds.values_list("second", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms"))
    data = {
        "id": run.pk,
        "status": run.status,
        "duration": run.config.get("duration_seconds"),
        "started_at": run.started_at.timestamp() if run.started_at else None,
        "finished_at": run.finished_at.timestamp() if run.finished_at else None,
        "seconds": seconds,
        # What the page follows live: the run's progress and this instance's own request rate and CPU.
        "topics": {
            "progress": topics.LOADTEST_PROGRESS,
            "rate": series_topic("http_request_rate", {"source": "loadtest"}),
            "cpu": series_topic("system_cpu_percent", {}),
        },
    }
    return render(request, "loadtest/run.html", {**_summary(run), "run_data": data})


@require_POST
def run_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """The emergency stop button (editors): the same stop as `POST /api/v1/loadtest/runs/{id}/stop/`."""
    if not has_role(request.user, Role.EDITOR):
        raise PermissionDenied("Only editors can stop load tests.")
    run = services.stop_run(get_object_or_404(LoadTestRun, pk=pk))
    if request.htmx:
        return render(request, "loadtest/partials/run_summary.html", _summary(run, stopping=run.status in LIVE))
    return redirect("loadtest:run", pk=run.pk)
