"""Scrape targets: the one validation every door to them uses (admin, API, import), and the
import of a Prometheus ``scrape_configs`` block."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from lib.outbound import OutboundRefusedError, check_url
from monitoring import rules
from monitoring.models import ScrapeTarget

MAX_INTERVAL_SECONDS = 3600
MAX_SAMPLE_LIMIT = 1_000_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")


def validate_target(target: ScrapeTarget) -> None:
    """Raise ValidationError (by field) for anything a target may not be; the URL must be one
    outbound rules let Seismo reach right now."""
    errors: dict[str, str] = {}
    if not target.name or _CONTROL.search(target.name):
        errors["name"] = "a name without control characters is required"
    parts = urlsplit(target.url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors["url"] = "must be http(s)://host:port/path"
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


def _seconds(raw: Any, field: str, default: int) -> int:
    if raw is None:
        return default
    match = _DURATION.match(str(raw))
    if not match:
        raise ValidationError({field: f"{raw!r} is not a duration like 15s, 1m"})
    number, unit = int(match.group(1)), match.group(2)
    seconds = {"ms": number / 1000, "s": number, "m": number * 60, "h": number * 3600}[unit]
    return max(1, int(seconds))


def import_scrape_configs(text: str) -> list[ScrapeTarget]:
    """Create (or update, by name) one target per static target of a Prometheus
    ``scrape_configs`` block; all or nothing. Targets of a job share its ``job`` label."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError({"config": f"not valid YAML: {exc}"}) from None
    if isinstance(document, dict):
        document = document.get("scrape_configs")
    if not isinstance(document, list):
        raise ValidationError({"config": "expected a scrape_configs list"})
    planned: list[ScrapeTarget] = []
    for job in document:
        if not isinstance(job, dict) or not isinstance(job.get("job_name"), str):
            raise ValidationError({"config": "every scrape config needs a job_name"})
        name = job["job_name"]
        interval = _seconds(job.get("scrape_interval"), "scrape_interval", 15)
        timeout = min(interval, _seconds(job.get("scrape_timeout"), "scrape_timeout", 10))
        scheme = job.get("scheme", "http")
        path = job.get("metrics_path", "/metrics")
        auth: dict[str, str] = {}
        if isinstance(job.get("authorization"), dict) and job["authorization"].get("credentials"):
            auth = {"bearer": str(job["authorization"]["credentials"])}
        elif isinstance(job.get("basic_auth"), dict):
            basic = job["basic_auth"]
            auth = {"username": str(basic.get("username", "")), "password": str(basic.get("password", ""))}
        statics = job.get("static_configs") or []
        hosts = [(host, group.get("labels") or {}) for group in statics for host in (group.get("targets") or [])]
        if not hosts:
            raise ValidationError({"config": f"job {name!r} has no static_configs targets"})
        for host, labels in hosts:
            target = ScrapeTarget.objects.filter(name=f"{name}-{host}" if len(hosts) > 1 else name).first()
            target = target or ScrapeTarget(name=f"{name}-{host}" if len(hosts) > 1 else name)
            target.url = f"{scheme}://{host}{path}"
            target.interval_seconds, target.timeout_seconds, target.auth = interval, timeout, auth
            target.labels = {"job": name, **{str(k): str(v) for k, v in labels.items()}}
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
