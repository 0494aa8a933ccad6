from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.authentication import IngestPrincipal, user_for_token
from accounts.roles import role_of
from lib.api import error_body
from monitoring import health
from monitoring.exposition import render_exposition
from monitoring.models import ScrapeTarget


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    status = health.snapshot()
    return JsonResponse(status, status=200 if health.all_up(status) else 503)


def _metrics_caller(request: HttpRequest) -> tuple[bool, bool]:
    """(identified, allowed): the METRICS_TOKEN, or a user (session or token) with a role."""
    if request.user.is_authenticated:
        return True, role_of(request.user) is not None
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False, False
    raw = header[7:]
    if settings.METRICS_TOKEN and hmac.compare_digest(raw, settings.METRICS_TOKEN):
        return True, True
    principal = user_for_token(raw)
    if principal is None or isinstance(principal, IngestPrincipal):
        return False, False
    return True, role_of(principal) is not None


@never_cache
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    identified, allowed = _metrics_caller(request)
    if not identified:
        return JsonResponse(error_body("not_authenticated", "A bearer token is required."), status=401)
    if not allowed:
        return JsonResponse(error_body("permission_denied", "Your account has no role."), status=403)
    return HttpResponse(render_exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")


def targets_page(request: HttpRequest) -> HttpResponse:
    """Scrape targets and their health, like Prometheus' /targets (HTMX refreshes the table)."""
    targets = list(ScrapeTarget.objects.all())
    for target in targets:
        target.job = target.labels.get("job", target.name)
        target.extra_labels = sorted((k, v) for k, v in target.labels.items() if k not in ("job", "instance"))
    context = {"targets": targets, "up": sum(1 for t in targets if t.health == "up")}
    template = "monitoring/partials/targets.html" if request.htmx else "monitoring/targets.html"
    return render(request, template, context)
