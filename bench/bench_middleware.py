"""Request middleware cost: no middleware vs ours vs django-prometheus, same harness, same run.

Each variant wraps the same trivial view; a tight loop calls it with the same request object.
The figure is the added time per request over the bare view (median of repeated runs).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from bench.common import Result

CALLS = 20_000
RUNS = 7


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


def _per_call(handler: Callable[[HttpRequest], HttpResponse], request: HttpRequest, calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        handler(request)
    return (time.perf_counter() - began) / calls * 1e6


def _prometheus() -> Callable[[HttpRequest], HttpResponse]:
    from django_prometheus.middleware import PrometheusAfterMiddleware, PrometheusBeforeMiddleware

    return PrometheusBeforeMiddleware(PrometheusAfterMiddleware(_view))


def run(args: Any) -> list[Result]:
    from monitoring.middleware import RequestMetricsMiddleware, stats

    calls = 2_000 if args.quick else CALLS
    request = RequestFactory().get("/api/v1/query/")
    variants = {"none": _view, "seismo": RequestMetricsMiddleware(_view), "django-prometheus": _prometheus()}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(RUNS):
        for name, handler in variants.items():  # interleaved, so drift hits all alike
            timings[name].append(_per_call(handler, request, calls))
            stats.take()
    base = statistics.median(timings["none"])
    ours = statistics.median(timings["seismo"]) - base
    theirs = statistics.median(timings["django-prometheus"]) - base
    return [
        Result("bare view, no middleware", base, "µs/request"),
        Result(
            "added by Seismo's request middleware",
            ours,
            "µs/request",
            "added by django-prometheus",
            theirs,
            goal="≤10 µs",
            met=ours <= 10,
            notes="in-memory counters + latency sketch + query counter; flushed to Redis once a second",
        ),
    ]
