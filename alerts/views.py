from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.roles import has_role
from alerts import services
from alerts.choices import AlertState
from alerts.filters import AlertFilter
from alerts.models import Alert, InvalidTransitionError


def index(request: HttpRequest) -> HttpResponse:
    """Active alerts and history; HTMX asks for the lists only (on every `alert` frame)."""
    history = AlertFilter(request.GET, queryset=Alert.objects.select_related("rule"))
    context = {
        "active": Alert.objects.exclude(state=AlertState.RESOLVED).select_related("rule")[:200],
        "history": history.qs[:200],
        "filter": history,
    }
    template = "alerts/partials/lists.html" if request.htmx else "alerts/index.html"
    return render(request, template, context)


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
    return redirect("alerts:index")
