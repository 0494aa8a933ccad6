"""Scrape targets: the one validation every door to them uses (admin, API, import), and the
import of a Prometheus ``scrape_configs`` block."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from lib.openapi import NAME_PATTERN
from lib.outbound import HTTP_URL_RE, URL_PORT, OutboundRefusedError, check_url
from monitoring import rules
from monitoring.models import ScrapeTarget

MAX_INTERVAL_SECONDS = 3600
MAX_SAMPLE_LIMIT = 1_000_000
# The auth a target may carry (validate_target), as JSON Schema for the API's request schema.
AUTH_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "maxProperties": 0},
        {
            "type": "object",
            "required": ["bearer"],
            "properties": {"bearer": {"type": "string", "minLength": 1}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            "additionalProperties": False,
        },
    ]
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DURATION = re.compile(r"^([0-9]+)(ms|s|m|h)(?![\s\S])")


def validate_target(target: ScrapeTarget) -> None:
    """Raise ValidationError (by field) for anything a target may not be; the URL must be one
    outbound rules let Seismo reach right now."""
    errors: dict[str, str] = {}
    if not target.name or _CONTROL.search(target.name):
        errors["name"] = "a name without control characters is required"
    if not HTTP_URL_RE.match(target.url or ""):
        errors["url"] = "must be http(s)://host:port/path (printable ASCII)"
    else:
        try:
            check_url(target.url)
        except OutboundRefusedError as exc:
            errors["url"] = str(exc)
    if not 1 <= (target.interval_seconds or 0) <= MAX_INTERVAL_SECONDS:
        errors["interval_seconds"] = f"between 1 and {MAX_INTERVAL_SECONDS} seconds"
    if not 1 <= (target.timeout_seconds or 0) <= (target.interval_seconds or 0):
        errors["timeout_seconds"] = "at least 1 second and at most the interval"
    problem = rules.label_problem(target.labels)
    if problem:
        errors["labels"] = problem[1]
    elif "__name__" in target.labels:
        errors["labels"] = "__name__ is not a label a target may set"
    auth = target.auth
    if not isinstance(auth, dict) or not (
        auth == {}
        or (set(auth) == {"bearer"} and isinstance(auth["bearer"], str) and auth["bearer"])
        or (set(auth) == {"username", "password"} and all(isinstance(v, str) for v in auth.values()))
    ):
        errors["auth"] = 'must be {}, {"bearer": "…"} or {"username": "…", "password": "…"}'
    if not 1 <= (target.sample_limit or 0) <= MAX_SAMPLE_LIMIT:
        errors["sample_limit"] = f"between 1 and {MAX_SAMPLE_LIMIT}"
    if errors:
        raise ValidationError(errors)


# A Prometheus scrape_configs document as the import takes it (JSON Schema: the API's request
# schema, and the check the import runs first). Durations are Prometheus' single-unit ones; a
# scrape interval is at most an hour, spelled in any unit; static labels join `job` (at most 20 in all).
_SECONDS_UP_TO_AN_HOUR = (
    r"0*(?:[0-9]{1,6}|[12][0-9]{6}|3[0-5][0-9]{5}|3600[0-9]{3})ms|0*(?:[0-9]{1,3}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)s"
    r"|0*(?:[0-9]|[1-5][0-9]|60)m|0*[01]h"
)
_TARGET = r"(?:[A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])"
_STATIC_LABELS = {
    **rules.labels_schema(),
    "propertyNames": {"pattern": rules.LABEL_RE.pattern, "not": {"const": "__name__"}},
    "anyOf": [{"maxProperties": rules.MAX_LABELS - 1}, {"required": ["job"]}],
}
_JOB: dict[str, Any] = {
    "type": "object",
    "required": ["job_name", "static_configs"],
    "properties": {
        "job_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NAME_PATTERN},
        "scrape_interval": {"type": "string", "pattern": f"^(?:{_SECONDS_UP_TO_AN_HOUR})(?![\\s\\S])"},
        "scrape_timeout": {"type": "string", "pattern": DURATION.pattern},
        "scheme": {"enum": ["http", "https"]},
        "metrics_path": {"type": "string", "maxLength": 200, "pattern": r"^(?:[/?#][!-~]*)?(?![\s\S])"},
        "sample_limit": {"type": "integer", "minimum": 0, "maximum": MAX_SAMPLE_LIMIT},
        "authorization": {
            "type": "object",
            "required": ["credentials"],
            "properties": {"type": {"const": "Bearer"}, "credentials": {"type": "string", "minLength": 1}},
        },
        "basic_auth": {
            "type": "object",
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        },
        "static_configs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["targets"],
                "properties": {
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "string",
                            "maxLength": 260,
                            "pattern": rf"^{_TARGET}(?::{URL_PORT})?(?![\s\S])",
                        },
                    },
                    "labels": {"type": "object", "allOf": [_STATIC_LABELS]},
                },
            },
        },
    },
}
_JOBS = {"type": "array", "items": _JOB}
SCRAPE_CONFIGS_SCHEMA: dict[str, Any] = {
    "oneOf": [{"type": "object", "required": ["scrape_configs"], "properties": {"scrape_configs": _JOBS}}, _JOBS]
}


def _seconds(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    match = DURATION.match(raw)
    assert match is not None  # the schema's pattern
    number, unit = int(match.group(1)), match.group(2)
    seconds = {"ms": number / 1000, "s": number, "m": number * 60, "h": number * 3600}[unit]
    return max(1, int(seconds))


def _schema_problem(document: Any) -> str | None:
    """What is wrong with ``document`` by SCRAPE_CONFIGS_SCHEMA (where, and the rule), if anything."""
    import jsonschema  # drf-spectacular's dependency; only imports load it

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(SCRAPE_CONFIGS_SCHEMA).iter_errors(document)
    )
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the document"
    return f"{where}: {error.message[:300]}"


def import_scrape_configs(document: Any) -> list[ScrapeTarget]:
    """Create (or update, by name) one target per static target of a Prometheus
    ``scrape_configs`` document (``{"scrape_configs": [...]}`` or the list), parsed from YAML or
    JSON; all or nothing. Targets of a job share its ``job`` label. A job's several targets are
    named ``<job>-<host:port>``; every name must be new to the document."""
    problem = _schema_problem(document)
    if problem:
        raise ValidationError({"config": f"not a scrape_configs document: {problem}"})
    planned: list[ScrapeTarget] = []
    for job in document["scrape_configs"] if isinstance(document, dict) else document:
        name = job["job_name"]
        interval = _seconds(job.get("scrape_interval"), 15)
        timeout = min(interval, _seconds(job.get("scrape_timeout"), 10))
        auth: dict[str, str] = {}
        if "authorization" in job:
            auth = {"bearer": job["authorization"]["credentials"]}
        elif "basic_auth" in job:
            basic = job["basic_auth"]
            auth = {"username": basic.get("username", ""), "password": basic.get("password", "")}
        hosts = [(host, group.get("labels") or {}) for group in job["static_configs"] for host in group["targets"]]
        for host, labels in hosts:
            target_name = f"{name}-{host}" if len(hosts) > 1 else name
            if any(t.name == target_name for t in planned):
                raise ValidationError({"config": f"job {name!r}: the target name {target_name!r} comes twice"})
            target = ScrapeTarget.objects.filter(name=target_name).first() or ScrapeTarget(name=target_name)
            target.url = f"{job.get('scheme', 'http')}://{host}{job.get('metrics_path', '/metrics')}"
            target.interval_seconds, target.timeout_seconds, target.auth = interval, timeout, auth
            target.labels = {"job": name, **labels}
            if job.get("sample_limit"):
                target.sample_limit = int(job["sample_limit"])
            try:
                target.full_clean()
            except ValidationError as exc:
                raise ValidationError({"config": f"job {name!r}, target {host!r}: {exc.messages[0]}"}) from None
            planned.append(target)
    with transaction.atomic():
        for target in planned:
            target.save()
    return planned
