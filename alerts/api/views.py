from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.choices import Role
from alerts import outbox, services
from alerts.api.serializers import (
    AcknowledgeSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    CommentSerializer,
    MaintenanceWindowSerializer,
    NotificationChannelSerializer,
    SilenceSerializer,
)
from alerts.filters import AlertFilter
from alerts.models import Alert, AlertRule, InvalidTransitionError, MaintenanceWindow, NotificationChannel, Silence
from lib.api import ApiError


class NotificationChannelViewSet(viewsets.ModelViewSet):
    """Notification channels. A Slack or webhook URL must lead to an address the outbound
    allowlist permits, looked up when the channel is saved (400 naming `config` otherwise)."""

    queryset = NotificationChannel.objects.all()
    serializer_class = NotificationChannelSerializer
    read_role = Role.ADMIN  # configs hold secrets, even masked
    write_role = Role.ADMIN

    @extend_schema(request=None, responses={200: None})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        notification = outbox.send_test(self.get_object())
        return Response(
            {"status": notification.status, "error": notification.last_error, "duration_ms": notification.duration_ms}
        )


class AlertRuleViewSet(viewsets.ModelViewSet):
    queryset = AlertRule.objects.prefetch_related("channels", "escalation_channels", "conditions")
    serializer_class = AlertRuleSerializer
    write_role = Role.ADMIN
    filterset_fields = ["metric", "enabled", "severity"]


class SilenceViewSet(viewsets.ModelViewSet):
    """Silences. `ends_at` must be after `starts_at` (absent: now), 400 otherwise; editors may
    silence for at most 24 hours and only with matchers."""

    queryset = Silence.objects.all()
    serializer_class = SilenceSerializer

    def perform_create(self, serializer: SilenceSerializer) -> None:
        serializer.save(created_by=self.request.user)


class MaintenanceWindowViewSet(viewsets.ModelViewSet):
    queryset = MaintenanceWindow.objects.all()
    serializer_class = MaintenanceWindowSerializer
    write_role = Role.ADMIN  # a recurring window mutes notifications for weeks: admins only


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    def get_queryset(self) -> QuerySet[Alert]:
        return Alert.objects.select_related("rule").prefetch_related("events")

    def _act(self, request: Request, fn: object, body: CommentSerializer) -> Response:
        body.is_valid(raise_exception=True)
        try:
            alert = fn(self.get_object(), request.user, **body.validated_data)  # type: ignore[operator]
        except InvalidTransitionError as exc:
            raise ApiError(str(exc), code="invalid_state", status_code=409) from None
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=AcknowledgeSerializer, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, services.acknowledge, AcknowledgeSerializer(data=request.data))

    @extend_schema(request=CommentSerializer, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, services.resolve, CommentSerializer(data=request.data))
