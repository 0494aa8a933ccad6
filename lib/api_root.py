"""The API root, ``/api/v1/``: where the API's resources live."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiRootView(APIView):
    """Where the API's resources live (see /api/docs/ for everything)."""

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot",
            {
                "schema": serializers.CharField(),
                "docs": serializers.CharField(),
                "version": serializers.CharField(),
                "user": serializers.CharField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"schema": "/api/schema/", "docs": "/api/docs/", "version": "v1", "user": request.user.get_username()}
        )
