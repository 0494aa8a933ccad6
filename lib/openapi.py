"""The OpenAPI document tells the truth about errors: every operation lists the error statuses it
can answer with, each with the envelope ``{"error": {"code", "message", "details"}}`` (one place,
a drf-spectacular postprocessing hook, so new endpoints are covered without per-view work)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import is_patched_serializer
from rest_framework import serializers

from lib.text import NAME_FORBIDDEN, TEXT_FORBIDDEN, valid_name, valid_text

# A name's pattern (``valid_name``): one printable line, not only spaces.
NAME_PATTERN = f"^(?!\\s*$)[^{NAME_FORBIDDEN.pattern[1:-1]}]+$"
ERROR_COMPONENT = "ErrorEnvelope"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
DESCRIPTIONS = {
    "400": "Invalid request (the message and details say what and where).",
    "401": "Not authenticated.",
    "403": "Authenticated, but the role does not allow this.",
    "404": "No such object.",
    "405": "Method not allowed here.",
    "406": "The Accept header asks for a format this endpoint does not produce.",
    "409": "Conflicts with the current state (e.g. too many load tests running).",
    "413": "Request body too large.",
    "415": "Unsupported Content-Type.",
    "429": "Too many requests or failed logins; retry later.",
}
ALWAYS = ("400", "401", "403", "405", "406", "429")
WITH_BODY = ("413", "415")
WRITES = ("409",)


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = list(ALWAYS)
            if "{" in path or method in ("put", "patch", "delete"):
                codes.append("404")
            if method in ("post", "put", "patch"):
                codes.extend(WITH_BODY)
            if method != "get":
                codes.extend(WRITES)
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                free = parameter.get("in") == "query" and schema.get("type") == "string"
                if free and not {"pattern", "enum", "format"} & schema.keys():
                    schema["pattern"] = "^[^\\x00]*$"  # Django's form fields (filters) refuse NUL
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": reference}}}
                )
    return result


def bounds(low: float, high: float, message: str) -> dict[str, Any]:
    """Serializer field kwargs for a numeric range: validated by DRF and shown in the schema
    (``minimum`` / ``maximum``), with one message for both ends."""
    return {"min_value": low, "max_value": high, "error_messages": {"min_value": message, "max_value": message}}


class AutoSchema(SpectacularAutoSchema):
    """Request and response schemas as strict as the validation behind them (one place):

    - a model JSONField is an object or an array (from its default), null only if the column is;
    - strings carry the characters our validators refuse as a pattern (NUL always);
    - read-only relations to nullable foreign keys are nullable;
    - a serializer's ``request_rules`` (JSON Schema keywords across its fields, e.g. a ``oneOf``)
      join its request object, except on PATCH, whose partial body merges with the stored one;
    - a request body given as a raw JSON Schema (``extend_schema(request={media type: schema})``)
      is required.
    """

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        rules = getattr(serializer, "request_rules", None)
        if rules and direction == "request" and not is_patched_serializer(serializer, direction):
            rules = copy.deepcopy(rules)
            schema.setdefault("properties", {}).update(rules.pop("properties", {}))  # per field
            schema.update(rules)
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> tuple[Any, bool]:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # A request given as a raw JSON Schema is one the view reads: the body is required.
        return schema, required or isinstance(serializer, dict)

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        model_field = _model_field(field)
        if isinstance(field, serializers.JSONField) and model_field is not None and not schema.get("type"):
            default = model_field.default
            shape = default() if callable(default) else default
            if isinstance(shape, dict):
                schema["type"] = "object"
            elif isinstance(shape, list):
                schema["type"] = "array"
                schema.setdefault("items", {})
            if model_field.null or getattr(field, "allow_null", False):
                _allow_null(schema)
        writable = direction == "request" and not field.read_only
        if (
            writable
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and "enum" not in schema
        ):
            validators = [*getattr(field, "validators", []), *(getattr(model_field, "validators", None) or [])]
            regex = next((v for v in validators if isinstance(v, RegexValidator)), None)
            if "pattern" not in schema and "format" not in schema:
                if regex is not None:  # the field's own pattern (spectacular adds it after this hook)
                    schema["pattern"] = regex.regex.pattern
                elif valid_name in validators:
                    schema["pattern"] = NAME_PATTERN
                elif valid_text in validators:
                    schema["pattern"] = f"^[^{TEXT_FORBIDDEN.pattern[1:-1]}]+$"
                else:
                    schema["pattern"] = "^[^\\x00]+$"  # non-empty: blank, where allowed, is its own branch
        related = isinstance(field, serializers.RelatedField) and field.read_only
        if related and model_field is not None and getattr(model_field, "null", False):
            _allow_null(schema)
        return schema


def _allow_null(schema: dict[str, Any]) -> None:
    """OpenAPI 3.1 (JSON Schema) spells nullable as a type list (or a ``null`` branch)."""
    if _admits_null(schema):
        return
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list):
        kind.append("null")
    else:
        schema.update({"oneOf": [{k: schema.pop(k) for k in list(schema)}, {"type": "null"}]})


def _admits_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_admits_null(branch) for branch in [*schema.get("oneOf", []), *schema.get("anyOf", [])])


def _model_field(field: Any) -> models.Field | None:
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    source = getattr(field, "source", None)
    if model is None or not source or "." in source or source == "*":
        return None
    try:
        return model._meta.get_field(source)
    except Exception:  # not a model field (a property, a method)
        return None
