"""Limit/offset pagination that refuses bad values (DRF's silently falls back to the defaults)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000


def _bounded(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if len(request.query_params.getlist(name)) > 1 or not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError({name: f"an integer from {low} to {high:,}"})
    return int(raw)


class StrictLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int | None:
        value = _bounded(request, self.limit_query_param, 1, MAX_LIMIT)
        return self.default_limit if value is None else value

    def get_offset(self, request: Request) -> int:
        value = _bounded(request, self.offset_query_param, 0, MAX_OFFSET)
        return 0 if value is None else value

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, MAX_LIMIT), self.offset_query_param: (0, MAX_OFFSET)}
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": low, "maximum": high}
        return parameters
