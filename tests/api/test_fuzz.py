"""The whole API fuzzed by schemathesis (every check): no 500, no answer outside the schema.

Deterministic and bounded: derandomized Hypothesis, a few examples per operation. Operations that
would reach outside this machine (a load-test run, a test notification, a scrape) are left out.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings

from accounts.models import ApiToken
from dashboards.models import GRID_COLUMNS
from dashboards.validation import POSITION
from monitoring.api.views import parse_time

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))  # more to verify a change: FUZZ_EXAMPLES=40

_serial = itertools.count()


def _fit_widgets(widgets: Any) -> None:
    """x + w within the grid (a rule between two values)."""
    for widget in widgets if isinstance(widgets, list) else []:
        x = widget.get("x", POSITION["x"][2])
        if x + widget.get("w", POSITION["w"][2]) > GRID_COLUMNS:
            widget["w"] = GRID_COLUMNS - x


def _fit_import(case: Any) -> None:
    document = case.body.get("dashboard", case.body)
    _fit_widgets(document.get("widgets"))


def _fit_check(case: Any) -> None:
    body = case.body
    # timeout at most the interval (a rule between two values)
    if body.get("kind") != "heartbeat":
        body["timeout_seconds"] = min(body.get("timeout_seconds", 10), body.get("interval_seconds", 60))
    # a name no other check has, channels that exist (the database's state): none do here
    body["name"] = f"{next(_serial)} {body['name']}"[:200]
    body["channels"] = []


def _later(earlier: str, later: str) -> Callable[[schemathesis.Case], None]:
    """``later`` after ``earlier`` (a missing ``earlier`` is now): an order swapped, one equal moved on."""

    def fit(case: schemathesis.Case) -> None:
        body = case.body
        if not isinstance(body, dict) or not isinstance(body.get(later), str):
            return
        start = parse_datetime(body[earlier]) if isinstance(body.get(earlier), str) else None
        end = parse_datetime(body[later])
        if start is None or end is None:
            if end is not None and end <= timezone.now() and earlier not in body:
                body[later] = (timezone.now() + timedelta(hours=1)).isoformat()
            return
        if end < start:
            body[earlier], body[later] = body[later], body[earlier]
        elif end == start:
            body[later] = (end + timedelta(seconds=1)).isoformat()

    return fit


def _from_before_to(case: schemathesis.Case) -> None:
    """``from`` before ``to`` (a missing ``to`` is now): an order swapped, else ``from`` the earliest."""
    query = case.query
    if not isinstance(query.get("from"), str) or not query["from"]:  # absent or empty: an hour before `to`
        return
    start = parse_time(query["from"], "from", timezone.now())
    end = parse_time(query["to"], "to", timezone.now()) if isinstance(query.get("to"), str) else timezone.now()
    if start < end:
        return
    if start > end and "to" in query:
        query["from"], query["to"] = query["to"], query["from"]
    elif end.timestamp() > EARLIEST:
        query["from"] = str(EARLIEST)
    else:
        query["to"] = str(EARLIEST + 1)


def _samples_now(case: schemathesis.Case) -> None:
    """Each sample's ``ts`` now, in the form it was drawn in (the window moves with the clock)."""
    samples = case.body.get("samples") if isinstance(case.body, dict) else None
    for sample in samples if isinstance(samples, list) else []:
        ts = sample.get("ts") if isinstance(sample, dict) else None
        if isinstance(ts, int | float):
            sample["ts"] = round(time.time(), 3)
        elif isinstance(ts, str):
            sample["ts"] = datetime.now(UTC).isoformat() if "-" in ts else str(round(time.time(), 3))


PUBLIC_HOST = "93.184.216.34"  # a literal public address: the allowlist passes it without DNS


def _public_url(url: Any, max_length: int | None = None) -> Any:
    if not isinstance(url, str):
        return url
    return re.sub(r"^(https?://)[^/?#]*", rf"\g<1>{PUBLIC_HOST}", url)[:max_length]


def _channel_public(case: schemathesis.Case) -> None:
    """An http(s) destination on a public address (whatever its name would resolve to)."""
    config = case.body.get("config") if isinstance(case.body, dict) else None
    if isinstance(config, dict) and case.body.get("kind") in ("slack", "webhook"):
        for key in {"url", "webhook_url"} & config.keys():
            config[key] = _public_url(config[key])


def _target_fit(case: schemathesis.Case) -> None:
    """The URL on a public address; the timeout at most the interval (defaults 10 and 15 s)."""
    body = case.body
    if not isinstance(body, dict):
        return
    if "url" in body:
        body["url"] = _public_url(body["url"], max_length=500)
    interval = body.get("interval_seconds", 15)
    if isinstance(interval, int | float) and body.get("timeout_seconds", 10) > interval:
        body["timeout_seconds"] = interval


def _no_channels(case: schemathesis.Case) -> None:
    """Channels by id must exist: there are none here (which exist is the database's, not the schema's)."""
    if isinstance(case.body, dict):
        for key in {"channels", "escalation_channels"} & case.body.keys():
            case.body[key] = []


def _import_fit(case: schemathesis.Case) -> None:
    """Every target on a public address (ports apart), every job named once, short enough that
    ``<job>-<host:port>`` is a target name (at most 100 characters)."""
    body = case.body
    jobs = body.get("scrape_configs") if isinstance(body, dict) else body
    ports = iter(range(9100, 65536))
    for index, job in enumerate(jobs if isinstance(jobs, list) else []):
        groups = job["static_configs"]
        for group in groups:
            group["targets"] = [f"{PUBLIC_HOST}:{next(ports)}" for _ in group["targets"]]
        several = sum(len(group["targets"]) for group in groups) > 1
        name = job["job_name"][:70] if several else job["job_name"][:90]
        job["job_name"] = f"{name if name.strip() else 'job'}-{index}"


EARLIEST = 86400  # the first instant TIME_RE admits

# Rules no JSON Schema can state, taught to the generator: each fit turns a schema-valid body into
# one a real client would send, on positive cases only (negative ones must stay invalid).
FITS: dict[str, Callable[[Any], None]] = {
    "POST /api/v1/checks/": _fit_check,
    "PUT /api/v1/checks/{id}/": _fit_check,
    "POST /api/v1/dashboards/": lambda case: _fit_widgets(case.body.get("widgets")),
    "PUT /api/v1/dashboards/{id}/": lambda case: _fit_widgets(case.body.get("widgets")),
    "POST /api/v1/dashboards/import/": _fit_import,
    "GET /api/v1/query/": _from_before_to,
    "GET /api/v1/export/": _from_before_to,
    "POST /api/v1/ingest/": _samples_now,
    "POST /api/v1/notification-channels/": _channel_public,
    "PUT /api/v1/notification-channels/{id}/": _channel_public,
    "POST /api/v1/alert-rules/": _no_channels,
    "PUT /api/v1/alert-rules/{id}/": _no_channels,
    "POST /api/v1/scrape-targets/": _target_fit,
    "PUT /api/v1/scrape-targets/{id}/": _target_fit,
    "POST /api/v1/scrape-targets/import/": _import_fit,
    "POST /api/v1/silences/": _later("starts_at", "ends_at"),  # ends after it starts
    "PUT /api/v1/silences/{id}/": _later("starts_at", "ends_at"),
}
# Requests that would send something out (a load test, a notification, a scrape, a probe).
OUTSIDE = re.compile(r"^/api/v1/(loadtest/runs/$|notification-channels/\{[^}]+\}/test/$|.*/(run|scrape|probe)/$)")


def _schema() -> schemathesis.schemas.BaseSchema:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = WSGIHandler()
    return schema


schema = _schema().exclude(
    func=lambda ctx: ctx.operation.method.upper() == "POST" and bool(OUTSIDE.match(ctx.operation.path))
)


@pytest.fixture
def admin_token(owner) -> str:
    _, raw = ApiToken.issue(owner, name="fuzz")
    return raw


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_every_operation_answers_within_its_schema(db, case, admin_token, settings_fixture_outbound):
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    if operation in FITS and case.meta is not None and case.meta.generation.mode.is_positive:
        FITS[operation](case)
        assert case.meta.generation.mode.is_positive, f"the fit for {operation} broke the schema"  # revalidated
    # Each example on the database as the test found it: what an earlier one created (a name now
    # taken) is no rule of the schema's.
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"})
        transaction.set_rollback(True)


@pytest.fixture
def settings_fixture_outbound(settings):
    settings.OUTBOUND_ALLOWLIST = []  # nothing private is reachable, whatever the fuzzer saves
    # Served in-process inside the test's transaction: keep Django from closing that connection
    # after each request (its test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
