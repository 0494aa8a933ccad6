"""Serializer validation through the model's own ``clean()``, so the API refuses exactly what
the forms and the admin refuse."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def clean_as_saved(serializer: serializers.ModelSerializer, attrs: dict[str, Any], skip: Iterable[str] = ()) -> None:
    """Run ``Model.clean()`` on the object as this write would leave it (the stored instance's
    fields, then ``attrs`` without the ``skip`` ones, e.g. many-to-many fields); its errors
    become the serializer's field errors (a 400)."""
    model = serializer.Meta.model
    instance = serializer.instance
    current = {} if instance is None else {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}
    skipped = set(skip)
    probe = model(**{**current, **{k: v for k, v in attrs.items() if k not in skipped}})
    try:
        probe.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean and nothing else: DRF's own also takes 0, 1, "yes", "on"…, which the
    schema (``type: boolean``) does not allow."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError  # fail() raises


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's own turns 0 into "0")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (1.0 too, as JSON Schema counts it) and nothing else: DRF's own also takes
    "5" and "5.0"."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number and nothing else: DRF's own also takes "1.5" and true."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictManyRelatedField(serializers.ManyRelatedField):
    """A JSON array of ids and nothing else: DRF's own also iterates an object's keys."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


def ids_of(queryset: Any, **kwargs: Any) -> StrictManyRelatedField:
    """A many-to-many field written as a JSON array of primary keys."""
    return StrictManyRelatedField(child_relation=serializers.PrimaryKeyRelatedField(queryset=queryset), **kwargs)


# A wall-clock time with no offset (it is read in a time zone the object names); the lookahead
# ends the string where ``$`` would also let a trailing newline through.
LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(?![\s\S])")


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME.pattern, "example": "02:00"})
class LocalTimeField(serializers.TimeField):
    """``hh:mm[:ss[.uuuuuu]]`` and nothing else (DRF's own also takes offsets and one-digit hours)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not LOCAL_TIME.match(data):
            self.fail("invalid", format="hh:mm[:ss[.uuuuuu]]")
        return super().to_internal_value(data)


# For a ModelSerializer's ``serializer_field_mapping``: its model fields read strict JSON types.
STRICT_FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.BooleanField: StrictBooleanField,
    models.CharField: StrictCharField,
    models.TextField: StrictCharField,
    models.TimeField: LocalTimeField,
}
# …and their numbers strict JSON numbers too.
STRICT_JSON_FIELD_MAPPING = {
    **STRICT_FIELD_MAPPING,
    # Each integer field by name: DRF's mapping names the subclasses, so they would not inherit it.
    **dict.fromkeys(
        (
            models.IntegerField,
            models.SmallIntegerField,
            models.BigIntegerField,
            models.PositiveIntegerField,
            models.PositiveSmallIntegerField,
            models.PositiveBigIntegerField,
        ),
        StrictIntegerField,
    ),
    models.FloatField: StrictFloatField,
}
