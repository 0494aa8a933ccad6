from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from monitoring import health


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The overview at `/`: live state of every component."""
    context = {"components": health.component_status()}
    if request.htmx:
        return render(request, "dashboards/partials/components.html", context)
    return render(request, "dashboards/overview.html", context)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboards/index.html")
