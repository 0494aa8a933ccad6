from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from lib.api import ApiError
from loadtest import services
from loadtest.api.serializers import RunCreateSerializer, RunDetailSerializer, RunSerializer, ScenarioSerializer
from loadtest.models import LoadTestRun, Scenario


class ScenarioViewSet(viewsets.ModelViewSet):
    queryset = Scenario.objects.all()
    serializer_class = ScenarioSerializer

    def perform_create(self, serializer: ScenarioSerializer) -> None:
        serializer.save(created_by=self.request.user)


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = LoadTestRun.objects.all()
    filterset_fields = ["status", "scenario"]

    def get_serializer_class(self) -> type:
        return RunDetailSerializer if self.action == "retrieve" else RunSerializer

    @extend_schema(request=RunCreateSerializer, responses={201: RunSerializer})
    def create(self, request: Request) -> Response:
        body = RunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = services.start_run(body.validated_data["scenario"], request.user)
        except services.RunBusyError as exc:
            raise ApiError(str(exc), code="too_many_runs", status_code=409) from None
        except services.RunRefusedError as exc:
            raise ApiError(str(exc), code="target_refused", details={"field": "target_url"}) from None
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        return Response(RunSerializer(services.stop_run(self.get_object())).data)

    @extend_schema(responses={200: None})
    @action(detail=True, methods=["get"], url_path=r"compare/(?P<other>\d+)")
    def compare(self, request: Request, pk: str | None = None, other: str | None = None) -> Response:
        baseline = self.get_object()
        candidate = LoadTestRun.objects.filter(pk=other).first()
        if candidate is None:
            raise ApiError("no such run to compare with", code="not_found", status_code=404)
        return Response(services.compare(baseline, candidate))
