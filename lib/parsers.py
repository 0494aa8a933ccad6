"""The API's request parsers: DRF's JSON parser behind a body size limit, and YAML (documents
that are YAML where they come from: a Prometheus scrape_configs block).

Its own module: DRF imports the default parser classes while ``rest_framework.views`` loads,
so this must not import that (``lib.api`` does).
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser behind a size limit (``API_MAX_BODY_BYTES``): DRF reads the stream
    itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never applies to API bodies."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"Request body over {limit} bytes.")
        if stream is None:
            return super().parse(stream, media_type, parser_context)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestTooLarge(f"Request body over {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)


class LimitedYAMLParser(LimitedJSONParser):
    """A YAML body (safe types only) behind the same size limit."""

    media_type = "application/yaml"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        import yaml  # only the endpoints that take YAML load it

        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"Request body over {limit} bytes.")
        try:
            document = yaml.safe_load(body.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise exceptions.ParseError(f"YAML parse error - {exc}") from None
        if _expands_past(document, MAX_YAML_VALUES):
            raise exceptions.ParseError(
                f"YAML parse error - the document expands to more than {MAX_YAML_VALUES} values (aliases)"
            )
        return document


# A small YAML body can stand for an enormous document: aliases share one object, and whatever
# walks it (validation, the importer) visits each use ("billion laughs"). Counted per use.
MAX_YAML_VALUES = 100_000


def _expands_past(document: Any, limit: int) -> bool:
    pending, seen = [document], 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
