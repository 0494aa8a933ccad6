"""The overview page at `/`. Thin: overview.services gathers what it shows."""

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
    """Live state of every component and the key metrics; HTMX polls get the components only."""
    context = {
        "components": services.component_states(health.component_status()),
        "restarts": health.restarts()["recent"][:5],
    }
    if request.htmx:
        return render(request, "overview/partials/components.html", context)
    context |= {
        "cards": services.overview_cards(),
        "alerts": services.firing_alerts(),
        "events": services.recent_events(),
        "silenced": Suppressions().active(),
        # What storage costs, as GET /api/v1/storage/ reports it (admins, like that endpoint).
        "storage": usage.storage_report() if has_role(request.user, Role.ADMIN) else None,
    }
    return render(request, "overview/index.html", context)
