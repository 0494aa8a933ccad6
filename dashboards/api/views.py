from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dashboards import permissions, services
from dashboards.api.serializers import IMPORT_SCHEMA, DashboardSerializer, ImportSerializer, LayoutSerializer
from dashboards.models import Dashboard


class DashboardViewSet(viewsets.ModelViewSet):
    """Dashboards with their widgets and layout. Shared ones and your own are listed; editors
    change shared dashboards and their own, viewers only read."""

    serializer_class = DashboardSerializer
    queryset = Dashboard.objects.none()  # narrowed per user in get_queryset
    filterset_fields = ["shared"]

    def get_queryset(self) -> QuerySet[Dashboard]:
        return permissions.visible_dashboards(self.request.user).select_related("owner").prefetch_related("widgets")

    def _editable(self) -> Dashboard:
        dashboard = self.get_object()
        if not permissions.can_edit(self.request.user, dashboard):
            raise exceptions.PermissionDenied("You cannot change this dashboard.")
        return dashboard

    def perform_update(self, serializer: DashboardSerializer) -> None:
        self._editable()
        serializer.save()

    def perform_destroy(self, instance: Dashboard) -> None:
        self._editable()
        instance.delete()

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: Any = None) -> Response:
        dashboard = self.get_object()
        response = Response(services.export_dashboard(dashboard))
        response["Content-Disposition"] = f'attachment; filename="dashboard-{dashboard.pk}.json"'
        return response

    @extend_schema(request={"application/json": IMPORT_SCHEMA}, responses={201: DashboardSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        body = request.data
        # Accept the exported document itself, or {"dashboard": document, "shared": bool}.
        if isinstance(body, dict) and "dashboard" in body:
            params = ImportSerializer(data=body)
            params.is_valid(raise_exception=True)
            document, shared = params.validated_data["dashboard"], params.validated_data["shared"]
        else:
            document, shared = body, False
        try:
            dashboard = services.import_dashboard(document, request.user, shared=shared)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        return Response(self.get_serializer(dashboard).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: DashboardSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: Any = None) -> Response:
        copy = services.duplicate_dashboard(self.get_object(), request.user)
        return Response(self.get_serializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LayoutSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def layout(self, request: Request, pk: Any = None) -> Response:
        dashboard = self._editable()
        params = LayoutSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            saved = services.save_layout(dashboard, [dict(item) for item in params.validated_data["layout"]])
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from exc
        return Response({"saved": saved})
