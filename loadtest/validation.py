"""Scenario validation: the limits the API and the admin both enforce (one set of checks, two doors).

Each field's check raises a ValidationError with the message the user sees; ``validate_scenario``
runs them all plus the rules between fields. The API's serializer runs the same field checks as
its field validators (so they are reported next to type errors) and the same rules between
fields; the model's ``clean()`` (and with it the admin) runs ``validate_scenario``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from loadtest.choices import ThinkMode

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
MAX_ENDPOINTS = 100
MAX_USERS = 10_000
MAX_DURATION_SECONDS = 24 * 3600
MAX_THROUGHPUT_PER_USER = 1000


MAX_PATH = 2000
MAX_HEADERS = 50
MAX_BODY = 64 * 1024
MAX_WEIGHT = 1_000_000


def _printable_pair(name: Any, value: Any) -> bool:
    return (
        isinstance(name, str)
        and isinstance(value, str)
        and bool(name)
        and name.isprintable()
        and value.isprintable()
        and len(name) + len(value) < 8192
    )


def check_endpoint(index: int, endpoint: Any) -> None:
    if not isinstance(endpoint, dict):
        raise ValidationError(f"endpoint {index}: an object with method, path, weight")
    path = endpoint.get("path", "")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH or not path.isprintable():
        raise ValidationError(f"endpoint {index}: a printable path starting with / (at most {MAX_PATH} characters)")
    if " " in path:
        raise ValidationError(f"endpoint {index}: no spaces in the path (encode them as %20)")
    method = endpoint.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValidationError(f"endpoint {index}: unknown method (one of {', '.join(sorted(METHODS))})")
    weight = endpoint.get("weight", 1)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= MAX_WEIGHT:
        raise ValidationError(f"endpoint {index}: weight must be a number above 0, at most {MAX_WEIGHT:,}")
    headers = endpoint.get("headers") or {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise ValidationError(f"endpoint {index}: headers are an object of at most {MAX_HEADERS} entries")
    if not all(_printable_pair(k, v) for k, v in headers.items()):
        raise ValidationError(f"endpoint {index}: header names and values are printable strings")
    body = endpoint.get("body")
    if body is not None and (not isinstance(body, str) or len(body) > MAX_BODY):
        raise ValidationError(f"endpoint {index}: body is a string of at most {MAX_BODY:,} characters")


def check_endpoints(value: Any) -> None:
    if not isinstance(value, list) or not value or len(value) > MAX_ENDPOINTS:
        raise ValidationError(f"a list of 1 to {MAX_ENDPOINTS} endpoints")
    for index, endpoint in enumerate(value):
        check_endpoint(index, endpoint)


def check_users(value: int) -> None:
    if not 1 <= value <= MAX_USERS:
        raise ValidationError(f"between 1 and {MAX_USERS:,}")


def check_duration_seconds(value: int) -> None:
    if not 1 <= value <= MAX_DURATION_SECONDS:
        raise ValidationError("between 1 second and 24 hours")


def check_max_error_rate(value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ValidationError("a share between 0 and 1")


def check_processes(value: int) -> None:
    cores = os.cpu_count() or 1
    if not 1 <= value <= cores:
        raise ValidationError(f"between 1 and {cores} (this machine's CPU count)")


def check_throughput_per_user(value: float | None) -> None:
    if value is not None and not 0 < value <= MAX_THROUGHPUT_PER_USER:
        raise ValidationError(f"more than 0 and at most {MAX_THROUGHPUT_PER_USER:,} requests a second")


FIELD_CHECKS: dict[str, Callable[[Any], None]] = {
    "endpoints": check_endpoints,
    "users": check_users,
    "duration_seconds": check_duration_seconds,
    "max_error_rate": check_max_error_rate,
    "processes": check_processes,
    "throughput_per_user": check_throughput_per_user,
}


def cross_field_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """The rules between fields, on the scenario as it will be saved."""
    if values.get("think_mode") == ThinkMode.CONSTANT_THROUGHPUT and not values.get("throughput_per_user"):
        return {"throughput_per_user": "required when think_mode is constant_throughput"}
    return {}


def validate_scenario(values: Mapping[str, Any]) -> None:
    """Raise a ValidationError naming each invalid field (the admin shows them per field)."""
    errors: dict[str, list[str]] = {}
    for name, check in FIELD_CHECKS.items():
        if values.get(name) is None:
            continue
        try:
            check(values[name])
        except ValidationError as exc:
            errors[name] = exc.messages
    for name, message in cross_field_errors(values).items():
        errors.setdefault(name, [message])
    if errors:
        raise ValidationError(errors)
