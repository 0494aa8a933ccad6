from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import throttle
from accounts.api.serializers import ApiTokenSerializer, TokenRequestSerializer, TokenResponseSerializer
from accounts.models import ApiToken
from lib.api import ApiError


class TokenView(APIView):
    """Exchange a username and password for a bearer token (shown once; stored hashed).

    Failed attempts are throttled per username and client address (``accounts.throttle``).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer})
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        user = authenticate(request._request, username=fields["username"], password=fields["password"])
        if getattr(request._request, "login_locked", False) and user is None:
            error = ApiError(throttle.locked_message(), code="throttled", status_code=429)
            error.wait = settings.LOGIN_LOCKOUT_SECONDS  # DRF turns it into Retry-After
            raise error
        if user is None or not user.is_active:
            raise ApiError("Wrong username or password.", code="not_authenticated", status_code=401)
        lifetime = fields.get("expires_in_seconds")
        expires_at = timezone.now() + timedelta(seconds=lifetime) if lifetime else None
        token, raw = ApiToken.issue(user, name=fields.get("name") or "api", expires_at=expires_at)
        return Response({"token": raw, "id": token.pk, "expires_at": expires_at}, status=status.HTTP_200_OK)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's own tokens: listed (never shown again) and revocable by their owner."""

    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    queryset = ApiToken.objects.none()

    def get_queryset(self) -> QuerySet[ApiToken]:
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not getattr(user, "pk", None):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user)

    def perform_destroy(self, instance: ApiToken) -> None:
        instance.revoke()
