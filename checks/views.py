"""Pages: the checks list, a check's page, create/edit, the SLA report; and the heartbeat door."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.choices import Role
from accounts.roles import has_role
from checks import reports, services
from checks.forms import CheckForm
from checks.models import Check
from checks.uptime import uptime_many
from monitoring.models import DailySummary
from monitoring.store.query import query

SPARK_W, SPARK_H = 120, 24
MAX_PING_NOTE = 200


def sparkline(recent: list[list[float]]) -> str:
    """SVG polyline points of the last response times (higher = slower)."""
    values = [p[1] for p in recent if len(p) == 2]
    if len(values) < 2:
        return ""
    top = max(values) or 1.0
    step = SPARK_W / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{SPARK_H - 2 - (v / top) * (SPARK_H - 4):.1f}" for i, v in enumerate(values))


def _forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "403.html", {"reason": reason}, status=403)


def index(request: HttpRequest) -> HttpResponse:
    """Every check: state, last result, sparkline, uptime 24 h / 30 d; HTMX asks for rows only."""
    checks = list(Check.objects.select_related("alert_rule").order_by("group", "name"))
    now = timezone.now()
    day = uptime_many(checks, now - timedelta(days=1), now, now)
    month = uptime_many(checks, now - timedelta(days=30), now, now)
    rows = [
        {"check": c, "spark": sparkline(c.recent), "day": day[c.pk].uptime, "month": month[c.pk].uptime} for c in checks
    ]
    context: dict[str, Any] = {"rows": rows, "can_edit": has_role(request.user, Role.EDITOR)}
    if request.htmx:
        return render(request, "checks/partials/rows.html", context)
    context["summaries"] = DailySummary.objects.select_related("metric").filter(metric__name__startswith="check_")[:50]
    return render(request, "checks/index.html", context)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    check = get_object_or_404(Check.objects.select_related("alert_rule"), pk=pk)
    now = timezone.now()
    ranges = {
        "24 hours": timedelta(days=1),
        "7 days": timedelta(days=7),
        "30 days": timedelta(days=30),
        "90 days": timedelta(days=90),
    }
    table = [(label, uptime_many([check], now - span, now, now)[check.pk]) for label, span in ranges.items()]
    history = query("check_duration_seconds", {"check": check.name}, now - timedelta(days=1), now, agg="avg")
    context = {
        "check": check,
        "table": table,
        "events": services.recent_events(check, 50),
        "history": history[0]["points"] if history else [],
        "ping_url": request.build_absolute_uri(check.ping_path) if check.kind == "heartbeat" else "",
        "can_edit": has_role(request.user, Role.EDITOR),
    }
    template = "checks/partials/status.html" if request.htmx else "checks/detail.html"
    return render(request, template, context)


def edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if not has_role(request.user, Role.EDITOR):
        return _forbidden(request, "Editors create and change checks.")
    check = get_object_or_404(Check, pk=pk) if pk else None
    form = CheckForm(request.POST or None, instance=check)
    if request.method == "POST" and form.is_valid():
        saved = services.save_check(form.save(commit=False), list(form.cleaned_data["channels"]), request.user)
        return redirect("checks:detail", pk=saved.pk)
    return render(request, "checks/form.html", {"form": form, "check": check})


@require_POST
def toggle(request: HttpRequest, pk: int) -> HttpResponse:
    if not has_role(request.user, Role.EDITOR):
        return _forbidden(request, "Editors pause and resume checks.")
    check = get_object_or_404(Check, pk=pk)
    services.set_paused(check, check.enabled)
    return redirect("checks:detail", pk=pk)


def sla(request: HttpRequest) -> HttpResponse:
    month = request.GET.get("month") or timezone.now().strftime("%Y-%m")
    try:
        report = reports.sla_report(month)
        error = ""
    except ValueError as exc:
        report, error = None, str(exc)
    return render(
        request, "checks/sla.html", {"report": report, "month": month, "error": error}, status=400 if error else 200
    )


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping(request: HttpRequest, token: str, fail: bool = False) -> HttpResponse:
    """A heartbeat: anonymous, GET or POST; ``…/fail`` reports the job failed (the body, if
    any, is kept as the reason)."""
    note = request.body[:MAX_PING_NOTE].decode(errors="replace").strip() if fail and request.method == "POST" else ""
    check = services.receive_ping(token, failed=fail, note="".join(c for c in note if c.isprintable()))
    if check is None:
        return JsonResponse(
            {"error": {"code": "not_found", "message": "No heartbeat check has this URL.", "details": {}}}, status=404
        )
    return HttpResponse("OK\n", content_type="text/plain")
