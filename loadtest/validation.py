"""Scenario validation: the limits the API and the admin both enforce (one set of checks, two doors).

Each field's check raises a ValidationError with the message the user sees; ``validate_scenario``
runs them all plus the rules between fields. The API's serializer runs the same field checks as
its field validators (so they are reported next to type errors) and the same rules between
fields; the model's ``clean()`` (and with it the admin) runs ``validate_scenario``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from loadtest.choices import ThinkMode

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_ENDPOINTS = 100
MAX_USERS = 10_000
MAX_DURATION_SECONDS = 24 * 3600
MAX_THROUGHPUT_PER_USER = 1000
MAX_PROCESSES = os.cpu_count() or 1  # this machine's CPU count


MAX_PATH = 2000
MAX_HEADERS = 50
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 8192 - MAX_HEADER_NAME - 1  # a header line stays under 8 KiB
MAX_BODY = 64 * 1024
MAX_WEIGHT = 1_000_000
ENDPOINT_KEYS = ("method", "path", "weight", "headers", "body")
# The syntaxes below are also the request schema's patterns (ECMA and Python read them alike;
# they are matched with fullmatch, so ``$`` admits no trailing newline).
# A request path: printable ASCII without spaces (anything else is percent-encoded).
PATH_RE = re.compile(f"^/[!-~]{{0,{MAX_PATH - 1}}}$")
# A method, in any case (ASCII letters only: some other letters upper-case to ASCII ones).
METHOD_RE = re.compile("^(" + "|".join("".join(f"[{c}{c.lower()}]" for c in m) for m in METHODS) + ")$")
# A header name is an RFC 9110 token; a value is printable ASCII (spaces inside allowed).
HEADER_NAME_RE = re.compile(f"^[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,{MAX_HEADER_NAME}}}$")
HEADER_VALUE_RE = re.compile(f"^[ -~]{{0,{MAX_HEADER_VALUE}}}$")
BODY_RE = re.compile("^[^\\x00]*$")  # what PostgreSQL's jsonb can store
# The target: http(s), a host name with a top-level domain, localhost or an IPv4 address, an
# optional port, then a printable path (a subset of what Django's URLValidator takes).
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = f"(({_LABEL}\\.)+[A-Za-z]{{2,63}}|[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]|{_OCTET}(\\.{_OCTET}){{3}})"
_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
TARGET_URL_RE = re.compile(f"^[Hh][Tt][Tt][Pp][Ss]?://{_HOST}(:{_PORT})?([/?#][!-~]*)?$")


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_target_url(value: Any) -> None:
    if not _matches(TARGET_URL_RE, value):
        raise ValidationError(
            "an http:// or https:// URL of a host name, localhost or an IPv4 address, optionally a port and a path"
        )


def check_endpoint(index: int, endpoint: Any) -> None:
    if not isinstance(endpoint, dict):
        raise ValidationError(f"endpoint {index}: an object with method, path, weight")
    if unknown := sorted(set(endpoint) - set(ENDPOINT_KEYS)):
        raise ValidationError(f"endpoint {index}: unknown key {unknown[0]!r} (allowed: {', '.join(ENDPOINT_KEYS)})")
    path = endpoint.get("path", "")
    if not _matches(PATH_RE, path):
        raise ValidationError(
            f"endpoint {index}: a path starting with /, printable ASCII without spaces (encode others, e.g. %20), "
            f"at most {MAX_PATH} characters"
        )
    if not _matches(METHOD_RE, endpoint.get("method", "GET")):
        raise ValidationError(f"endpoint {index}: unknown method (one of {', '.join(sorted(METHODS))})")
    weight = endpoint.get("weight", 1)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= MAX_WEIGHT:
        raise ValidationError(f"endpoint {index}: weight must be a number above 0, at most {MAX_WEIGHT:,}")
    headers = endpoint.get("headers", {})
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise ValidationError(f"endpoint {index}: headers are an object of at most {MAX_HEADERS} entries")
    if not all(_matches(HEADER_NAME_RE, k) and _matches(HEADER_VALUE_RE, v) for k, v in headers.items()):
        raise ValidationError(
            f"endpoint {index}: header names are tokens (at most {MAX_HEADER_NAME} characters), values printable "
            f"ASCII strings (at most {MAX_HEADER_VALUE:,})"
        )
    body = endpoint.get("body")
    if body is not None and (not _matches(BODY_RE, body) or len(body) > MAX_BODY):
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
    if not 1 <= value <= MAX_PROCESSES:
        raise ValidationError(f"between 1 and {MAX_PROCESSES} (this machine's CPU count)")


def check_throughput_per_user(value: float | None) -> None:
    if value is not None and not 0 < value <= MAX_THROUGHPUT_PER_USER:
        raise ValidationError(f"more than 0 and at most {MAX_THROUGHPUT_PER_USER:,} requests a second")


FIELD_CHECKS: dict[str, Callable[[Any], None]] = {
    "target_url": check_target_url,
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
