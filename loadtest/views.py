from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from loadtest.models import LoadTestRun, Scenario


def index(request: HttpRequest) -> HttpResponse:
    """Scenarios and runs; the runs table follows `loadtest-progress` frames live."""
    context = {
        "scenarios": Scenario.objects.all()[:100],
        "runs": LoadTestRun.objects.select_related("scenario")[:50],
    }
    return render(request, "loadtest/index.html", context)
