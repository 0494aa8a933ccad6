from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from checks import reports, services
from checks.api.serializers import CheckEventSerializer, CheckSerializer, DailySummarySerializer, UptimeSerializer
from checks.models import Check
from checks.uptime import uptime
from lib.api import ApiError
from monitoring.models import DailySummary

MAX_UPTIME_RANGE_DAYS = 400


def parse_time(raw: str | None, name: str, default: datetime) -> datetime:
    """RFC 3339 or epoch seconds; a 400 naming the parameter otherwise."""
    if raw in (None, ""):
        return default
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ApiError(f"{name}: not RFC 3339 or epoch seconds", details={name: "not RFC 3339 or epoch seconds"})
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class CheckViewSet(viewsets.ModelViewSet):
    queryset = Check.objects.select_related("alert_rule").prefetch_related("channels")
    serializer_class = CheckSerializer
    filterset_fields = ["kind", "state", "enabled", "group"]

    def perform_destroy(self, instance: Check) -> None:
        services.delete_check(instance)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.STR, description="RFC 3339 or epoch seconds (default: 24 h ago)"),
            OpenApiParameter("to", OpenApiTypes.STR, description="RFC 3339 or epoch seconds (default: now)"),
        ],
        responses={200: UptimeSerializer},
    )
    @action(detail=True, methods=["get"])
    def uptime(self, request: Request, pk: str | None = None) -> Response:
        check = self.get_object()
        now = timezone.now()
        end = parse_time(request.query_params.get("to"), "to", now)
        start = parse_time(request.query_params.get("from"), "from", end - timedelta(days=1))
        if start >= end:
            raise ApiError("from must be before to", details={"from": "must be before to"})
        if end - start > timedelta(days=MAX_UPTIME_RANGE_DAYS):
            raise ApiError(
                f"at most {MAX_UPTIME_RANGE_DAYS} days",
                details={"from": f"at most {MAX_UPTIME_RANGE_DAYS} days before to"},
            )
        result = uptime(check, start, end, now)
        met = None if result.uptime is None else result.uptime * 100 >= check.sla_target
        return Response(
            {**result.as_dict(), "sla_target": check.sla_target, "sla_met": met, "mttr_seconds": result.mttr_seconds}
        )

    @extend_schema(responses={200: CheckEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        return Response(CheckEventSerializer(services.recent_events(self.get_object(), 200), many=True).data)

    @extend_schema(request=None, responses={200: CheckSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        check = services.set_paused(self.get_object(), True)
        return Response(CheckSerializer(check, context={"request": request}).data)

    @extend_schema(request=None, responses={200: CheckSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        check = services.set_paused(self.get_object(), False)
        return Response(CheckSerializer(check, context={"request": request}).data)


class SlaReportView(APIView):
    """The monthly SLA report: per check and per group, maintenance windows excluded."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month",
                OpenApiTypes.STR,
                pattern=f"^$|{reports.MONTH_RE.pattern}",
                description="YYYY-MM (default: this month)",
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
        ],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> Response | HttpResponse:
        month = request.query_params.get("month") or timezone.now().strftime("%Y-%m")
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ApiError("format: json or csv", details={"format": "json or csv"})
        try:
            report = reports.sla_report(month)
        except ValueError as exc:
            raise ApiError(f"month: {exc}", details={"month": str(exc)}) from None
        if fmt == "csv":
            response = HttpResponse(reports.sla_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="sla-{month}.csv"'
            return response
        return Response(report)


class DailySummaryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per metric and day: series, samples, min, max and average (computed hourly)."""

    serializer_class = DailySummarySerializer
    filterset_fields = ["day"]

    def get_queryset(self) -> QuerySet[DailySummary]:
        rows = DailySummary.objects.select_related("metric").order_by("-day", "metric__name")
        metric = self.request.query_params.get("metric")
        return rows.filter(metric__name=metric) if metric else rows
