"""Serializer validation through the model's own ``clean()``, so the API refuses exactly what
the forms and the admin refuse."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
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
