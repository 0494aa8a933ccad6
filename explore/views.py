"""Explore pages: the view, catalogue search, label values, add-to-dashboard. Thin: the work is
in explore.services (reading) and dashboards.services (the widget)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboards import permissions
from dashboards import services as dashboards
from dashboards.validation import error_text
from explore import services
from explore.forms import AddToDashboardForm
from monitoring import rules


def _page(request: HttpRequest, params: Any, form: AddToDashboardForm | None, status: int = 200) -> HttpResponse:
    form = form or AddToDashboardForm(user=request.user, initial={"w": 12, "h": 8})
    context = {
        "initial": services.initial_data(params),
        "form": form,
        "can_add": permissions.can_create(request.user) and bool(form.dashboards),
        "can_create": permissions.can_create(request.user),
    }
    return render(request, "explore/index.html", context, status=status)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Explore: any metric's series as a chart and a table; the address holds the whole view."""
    return _page(request, request.GET, None)


def _error(message: str, field: str, status: int = 400) -> JsonResponse:
    body = {"error": {"code": "invalid", "message": message, "details": {"field": field}}}
    return JsonResponse(body, status=status)


@require_GET
def metrics(request: HttpRequest) -> JsonResponse:
    """Search the catalogue as the user types (``?q=``)."""
    return JsonResponse({"metrics": services.search_metrics(request.GET.get("q", ""))})


@require_GET
def labels(request: HttpRequest) -> JsonResponse:
    """The label names and values that exist for ``?metric=``."""
    metric = request.GET.get("metric", "")
    if not rules.NAME_RE.match(metric):
        return _error("`metric` is required and must be a metric name.", "metric")
    return JsonResponse({"metric": metric, "labels": services.label_values(metric)})


@require_POST
def add_to_dashboard(request: HttpRequest) -> HttpResponse:
    """Create a widget with the chosen query on a dashboard the user may edit, then show it."""
    if not permissions.can_create(request.user):
        raise PermissionDenied("Your role cannot change dashboards.")
    form = AddToDashboardForm(request.POST, user=request.user)
    if form.is_valid():
        dashboard = form.dashboards[form.cleaned_data["dashboard"]]
        try:
            widget = dashboards.add_widget(dashboard, form.widget_config)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, f"Added “{widget.display_title}” to {dashboard.title}.")
            return redirect(reverse("dashboards:detail", args=[dashboard.pk]) + f"#widget-{widget.pk}")
    back = urlsplit(str(request.POST.get("next") or ""))
    params = dict(parse_qsl(back.query)) if back.path == "/explore/" else {}
    return _page(request, params, form, status=400)
