"""Pages: scenarios (create from a preset or from scratch, start), runs (filter, live page, stop
while running, mark a baseline) and comparing two runs. Thin: services do the work."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.roles import has_role
from lib.realtime import series_topic
from loadtest import services
from loadtest.choices import Preset, RunStatus
from loadtest.forms import HELP, SAFETY, RunFilterForm, ScenarioForm
from loadtest.models import LoadTestRun, Scenario
from monitoring import topics

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def _editor(request: HttpRequest) -> None:
    if not has_role(request.user, Role.EDITOR):
        raise PermissionDenied("Only editors create, start and stop load tests.")


def index(request: HttpRequest) -> HttpResponse:
    """Scenarios and runs; the runs table follows `loadtest-progress` frames live."""
    filters = RunFilterForm(request.GET)
    runs = LoadTestRun.objects.select_related("scenario").order_by("-created_at")
    if filters.is_valid():
        if filters.cleaned_data["scenario"]:
            runs = runs.filter(scenario=filters.cleaned_data["scenario"])
        if filters.cleaned_data["status"]:
            runs = runs.filter(status=filters.cleaned_data["status"])
    context = {
        "scenarios": Scenario.objects.select_related("baseline_run")[:100],
        "runs": runs[:50],
        "filters": filters,
        "filtered": any(request.GET.get(k) for k in ("scenario", "status")),
        "presets": Preset.choices,
        "live_statuses": LIVE,
        "stream_topics": {"progress": topics.LOADTEST_PROGRESS},
    }
    return render(request, "loadtest/index.html", context)


def scenario_new(request: HttpRequest) -> HttpResponse:
    """Create a scenario from a preset (``?preset=``) or from scratch; bad input is a form error."""
    _editor(request)
    if request.method == "POST":
        form = ScenarioForm(request.POST)
        if form.is_valid():
            scenario = form.save(created_by=request.user)
            messages.success(request, f"Created “{scenario.name}”. Start it when you are ready.")
            return redirect(reverse("loadtest:index") + f"#scenario-{scenario.pk}")
        status = 400
    else:
        form = ScenarioForm.starting_from(request.GET.get("preset"), request.build_absolute_uri("/").rstrip("/"))
        status = 200
    context = {"form": form, "presets": Preset.choices, "safety": SAFETY, "help": HELP}
    return render(request, "loadtest/scenario_form.html", context, status=status)


@require_POST
def scenario_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a run of the scenario and open its live page (refused targets say why)."""
    _editor(request)
    scenario = get_object_or_404(Scenario, pk=pk)
    try:
        run = services.start_run(scenario, request.user)
    except services.RunRefusedError as exc:
        messages.error(request, f"“{scenario.name}” cannot start: {exc}")
        return redirect("loadtest:index")
    return redirect("loadtest:run", pk=run.pk)


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
    run = get_object_or_404(LoadTestRun.objects.select_related("scenario", "scenario__baseline_run"), pk=pk)
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
    baseline = run.scenario.baseline_run if run.scenario else None
    context = {**_summary(run), "run_data": data, "baseline": baseline}
    earlier = LoadTestRun.objects.filter(scenario=run.scenario, pk__lt=run.pk).exclude(status__in=LIVE)
    context["previous"] = earlier.order_by("-pk").first() if run.scenario else None
    return render(request, "loadtest/run.html", context)


@require_POST
def run_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """The emergency stop button (editors): the same stop as `POST /api/v1/loadtest/runs/{id}/stop/`."""
    _editor(request)
    run = services.stop_run(get_object_or_404(LoadTestRun, pk=pk))
    if request.htmx:
        return render(request, "loadtest/partials/run_summary.html", _summary(run, stopping=run.status in LIVE))
    return redirect("loadtest:run", pk=run.pk)


@require_POST
def run_baseline(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a finished run as its scenario's baseline: later runs compare against it."""
    _editor(request)
    run = get_object_or_404(LoadTestRun.objects.select_related("scenario"), pk=pk)
    if run.scenario is None or run.status in LIVE:
        messages.error(request, "Only a finished run of a saved scenario can be the baseline.")
    else:
        run.scenario.mark_baseline(run)
        messages.success(request, f"Run {run.pk} is now the baseline of “{run.scenario.name}”.")
    return redirect("loadtest:run", pk=run.pk)


def _curves(run: LoadTestRun) -> dict[str, Any]:
    rows = run.seconds.values_list("second", "requests", "failures", "p50_ms", "p95_ms", "p99_ms")
    return {
        "id": run.pk,
        "label": f"run {run.pk} · {run.scenario.name if run.scenario else 'inline'}",
        "seconds": [list(r) for r in rows],
    }


def compare(request: HttpRequest) -> HttpResponse:
    """Two runs on one page (``?a=`` baseline, ``?b=`` candidate): curves on a common
    time-from-start axis and the totals side by side with the regression verdict."""
    runs = LoadTestRun.objects.select_related("scenario")
    raw_a, raw_b = request.GET.get("a", ""), request.GET.get("b", "")
    error = ""
    if not (raw_a.isdigit() and raw_b.isdigit()):
        error = "Pick two runs to compare (tick two in the runs list)."
    elif raw_a == raw_b:
        error = "Pick two different runs."
    a = runs.filter(pk=raw_a).first() if not error else None
    b = runs.filter(pk=raw_b).first() if not error else None
    if not error and (a is None or b is None):
        error = "One of these runs does not exist (any more)."
    if error:
        context = {"error": error, "runs": runs.exclude(status__in=LIVE).order_by("-created_at")[:50]}
        return render(request, "loadtest/compare.html", context, status=400 if request.GET else 200)
    assert a is not None and b is not None
    rows = [
        ("Requests", "requests", ""),
        ("Failures", "failures", ""),
        ("Requests/s", "rps", "req/s"),
        ("p50", "p50_ms", "ms"),
        ("p95", "p95_ms", "ms"),
        ("p99", "p99_ms", "ms"),
    ]
    context = {
        "a": a,
        "b": b,
        "totals": [(label, getattr(a, f), getattr(b, f), unit) for label, f, unit in rows],
        "verdict": services.compare(a, b),
        "curves": {"a": _curves(a), "b": _curves(b)},
    }
    return render(request, "loadtest/compare.html", context)
