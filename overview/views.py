"""The overview at `/`. Thin: overview.services gathers what it shows."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.choices import Role
from accounts.roles import has_role
from alerts.suppressions import Suppressions
from monitoring import health
from monitoring.store import usage
from overview import services


def overview(request: HttpRequest) -> HttpResponse:
    """Live state of every component and the key metrics.

    The page itself never waits on a probe: component health (a Celery ping can take a second)
    and the storage report (counts over the sample tables) come as HTMX fragments the page
    asks for once it is shown, each answered by this view according to the fragment's target.
    """
    is_admin = has_role(request.user, Role.ADMIN)
    if request.htmx and request.htmx.target == "storage":
        # What storage costs, as GET /api/v1/storage/ reports it (admins, like that endpoint).
        storage = usage.storage_report() if is_admin else None
        return render(request, "overview/partials/storage.html", {"storage": storage})
    if request.htmx:
        context = {
            "components": services.component_states(health.snapshot()),
            "restarts": health.restarts()["recent"][:5],
        }
        return render(request, "overview/partials/components.html", context)
    context = {
        "components": services.pending_components(),
        "cards": services.overview_cards(),
        "alerts": services.firing_alerts(),
        "events": services.recent_events(),
        "silenced": Suppressions().active(),
        "show_storage": is_admin,
    }
    return render(request, "overview/index.html", context)
