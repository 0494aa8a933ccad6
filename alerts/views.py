"""Alert pages: the filterable list, one alert's page, acknowledge/resolve. Thin: services and
the Alert model do the work."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.roles import has_role
from alerts import services
from alerts.choices import AlertState
from alerts.filters import SINCE_PRESETS, AlertFilter
from alerts.models import Alert, AlertRule, InvalidTransitionError
from explore.services import explore_url
from monitoring.models import Metric

# The chart on an alert's page: this much before the alert started and after it ended.
CHART_MARGIN = timedelta(minutes=15)


def index(request: HttpRequest) -> HttpResponse:
    """Active alerts and history; HTMX asks for the lists only (on every `alert` frame)."""
    history = AlertFilter(request.GET, queryset=Alert.objects.select_related("rule").order_by("-started_at"))
    active = Alert.objects.exclude(state=AlertState.RESOLVED).select_related("rule").order_by("-started_at")
    context = {
        "active": active[:200],
        "history": history.qs[:200],
        "filter": history,
        # The filter bar's choices in one plain query (a ModelChoiceField would count the rules,
        # then read them through a server-side cursor) and the values it shows as chosen.
        "rules": list(AlertRule.objects.order_by("name").values_list("pk", "name")),
        "chosen": {k: request.GET.get(k, "") for k in ("rule", "state", "severity", "since")},
        "since_presets": [(k, label) for k, (label, _) in SINCE_PRESETS.items()],
        "filtered": any(request.GET.get(k) for k in ("rule", "state", "severity", "since")),
    }
    template = "alerts/partials/lists.html" if request.htmx else "alerts/index.html"
    return render(request, template, context)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One alert: its timeline, the series around the incident with the thresholds, the
    notifications sent, and links to the rule and Explore."""
    alert = get_object_or_404(Alert.objects.select_related("rule", "acknowledged_by"), pk=pk)
    rule = alert.rule
    events = list(alert.events.order_by("at", "id"))
    notifications = list(alert.notifications.select_related("channel").order_by("created_at", "id"))
    metric = Metric.objects.filter(name=rule.metric).first()
    start = alert.started_at - max(CHART_MARGIN, timedelta(seconds=rule.window_seconds * 3))
    end = min(timezone.now(), (alert.resolved_at or timezone.now()) + CHART_MARGIN)
    thresholds = [
        {"value": value, "level": level}
        for value, level in ((rule.warning_threshold, "warning"), (rule.critical_threshold, "critical"))
        if value is not None
    ]
    chart = {
        "metric": rule.metric,
        "labels": alert.labels,
        # The rule's own aggregation: the thresholds drawn are on its scale (a rate, a p95 …).
        "aggregation": rule.aggregation,
        "unit": metric.unit if metric else "",
        "from": int(start.timestamp()),
        "to": int(end.timestamp()) + 1,
        "thresholds": thresholds,
        "incident": [alert.started_at.timestamp(), alert.resolved_at.timestamp() if alert.resolved_at else None],
        "events": [{"at": e.at.timestamp(), "state": e.state} for e in events],
    }
    window = {"range": "custom", "from": chart["from"], "to": chart["to"]}
    context = {
        "alert": alert,
        "rule": rule,
        "events": events,
        "notifications": notifications,
        "unit": chart["unit"],
        "chart": chart,
        "explore": explore_url(rule.metric, alert.labels, rule.aggregation, **window),
        "can_admin_rules": has_role(request.user, Role.ADMIN),
        "rule_admin_url": reverse("admin:alerts_alertrule_change", args=[rule.pk]),
    }
    return render(request, "alerts/detail.html", context)


VERBS = ("acknowledge", "resolve")


@require_POST
def act(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    if not has_role(request.user, Role.EDITOR):
        return render(request, "403.html", {"reason": "Editors acknowledge and resolve alerts."}, status=403)
    if verb not in VERBS:
        return HttpResponseBadRequest("Unknown action: acknowledge or resolve.", content_type="text/plain")
    alert = get_object_or_404(Alert, pk=pk)
    comment = request.POST.get("comment", "")[:500]
    try:
        if verb == "acknowledge":
            minutes = request.POST.get("expires_in_minutes", "")
            expires = int(minutes) if minutes.isdigit() else None
            services.acknowledge(alert, request.user, comment, expires_in_minutes=expires)
        else:
            services.resolve(alert, request.user, comment)
    except InvalidTransitionError as exc:
        messages.error(request, str(exc))
    # Back where the button was: the alert's own page, or the list.
    if request.POST.get("next") == "detail":
        return redirect("alerts:detail", pk=alert.pk)
    return redirect("alerts:index")
