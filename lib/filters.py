"""The API's filter backend: query filters as strict as the schema says they are.

django-filter ignores an empty ``?since=`` and answers 400 for ``?rule=<id that does not exist>``;
the OpenAPI document says a date-time and an integer. Here an empty value for a typed or choice
filter is a 400, and an unknown object id matches nothing (an empty list) — one place for every viewset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

# Free text may be empty; a choice may not (the schema's enum has no "", as a type has no empty value).
UNTYPED = (django_filters.CharFilter,)
BOOLEAN_WORDS = {"true", "false", "1", "0"}
OBJECT_FILTERS = (django_filters.ModelChoiceFilter, django_filters.ModelMultipleChoiceFilter)


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        empty = {
            name: "must not be empty"
            for name, flt in filterset.filters.items()
            if not isinstance(flt, UNTYPED) and name in request.query_params and request.query_params[name] == ""
        }
        if empty:
            raise ValidationError(empty)
        booleans = {
            name: "true or false"
            for name, flt in filterset.filters.items()
            if isinstance(flt, django_filters.BooleanFilter)
            and name in request.query_params
            and any(v.lower() not in BOOLEAN_WORDS for v in request.query_params.getlist(name))
        }
        if booleans:
            raise ValidationError(booleans)
        if filterset.is_valid():
            for name, value in list(filterset.form.cleaned_data.items()):
                if isinstance(value, datetime) and value.tzinfo is not None:
                    try:  # PostgreSQL refuses offsets past ±15:59; UTC is the same instant
                        filterset.form.cleaned_data[name] = value.astimezone(UTC)
                    except OverflowError:
                        raise ValidationError({name: "out of range"}) from None
            return filterset.qs
        errors = filterset.errors
        unknown_ids = [
            name
            for name in errors
            if isinstance(filterset.filters.get(name), OBJECT_FILTERS)
            and all(value.removeprefix("-").isdigit() for value in request.query_params.getlist(name))
        ]
        if unknown_ids and len(unknown_ids) == len(errors):
            return queryset.none()  # well-formed ids of objects that do not exist: nothing matches
        raise ValidationError({name: list(messages) for name, messages in errors.items()})
