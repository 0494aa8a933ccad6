"""The push doors: Prometheus remote-write and OTLP/HTTP metrics — decode, hand to ingest, answer.

Both take ``Authorization: Bearer <ingest key or editor token>``. Answers follow each protocol
so senders retry only what they should: 2xx stored, 400 never retry (undecodable or invalid
data — the valid part of a batch is stored all the same), 413 too large, 415 wrong content
type, 429/503 back off and retry (the database is busy or down).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from accounts.authentication import IngestPrincipal, user_for_token
from accounts.choices import Role
from accounts.models import hash_token
from accounts.roles import has_role
from monitoring import ingest, topics
from monitoring.intake import otlp, remote_write
from monitoring.intake.columns import DoorError, KeyCache

logger = logging.getLogger(__name__)

# One cache per door and source: series keys are door-specific raw forms.
_caches: dict[tuple[str, str], KeyCache] = {}


def cache_for(door: str, source: str) -> KeyCache:
    cache = _caches.get((door, source))
    if cache is None:
        cache = _caches[(door, source)] = KeyCache()
    return cache


def clear_caches() -> None:
    _caches.clear()
    _principals.clear()


# Senders push many times a second with one token: who a token is stays known this long per
# process (two queries saved per request), so a revoked key or lost role stops within it.
PRINCIPAL_TTL_SECONDS = 10.0
_principals: dict[str, tuple[float, str | DoorError]] = {}


def principal_source(authorization: str) -> str:
    """The source name of a bearer token allowed to push (``key:<name>`` / ``user:<name>``)."""
    if not authorization.startswith("Bearer "):
        raise DoorError("send Authorization: Bearer <ingest key or editor token>", status=401, code="not_authenticated")
    digest = hash_token(authorization[7:].strip())
    now = time.monotonic()
    known = _principals.get(digest)
    if known is None or known[0] < now:
        known = (now + PRINCIPAL_TTL_SECONDS, _lookup(authorization[7:].strip()))
        if len(_principals) > 10_000:
            _principals.clear()
        _principals[digest] = known
    if isinstance(known[1], DoorError):
        raise known[1]
    return known[1]


def _lookup(raw: str) -> str | DoorError:
    principal = user_for_token(raw)
    if principal is None:
        return DoorError("invalid or revoked token", status=401, code="not_authenticated")
    if isinstance(principal, IngestPrincipal):
        return f"key:{principal.ingest_key.name}"
    if not has_role(principal, Role.EDITOR):
        return DoorError(
            "your role does not allow pushing metrics (editor or an ingest key)", status=403, code="permission_denied"
        )
    return f"user:{principal.get_username()}"


def check_length(content_length: str | None) -> None:
    """Refuse an oversized body before reading it (Content-Length, as the sender declares it)."""
    try:
        length = int(content_length or 0)
    except ValueError:
        raise DoorError("Content-Length is not a number") from None
    if length > settings.INTAKE_MAX_BYTES:
        raise DoorError(f"body is larger than {settings.INTAKE_MAX_BYTES} bytes", status=413, code="too_large")


def check_remote_write_version(content_type: str) -> None:
    """Remote-write 1.0 only: a 2.0 sender (``proto=io.prometheus.write.v2.Request``) is told so."""
    if "io.prometheus.write.v2" in content_type:
        raise DoorError(
            "remote-write 2.0 is not supported: send remote-write 1.0 (prometheus.WriteRequest)",
            status=415,
            code="unsupported_media_type",
        )


def check_size(body: bytes) -> None:
    if len(body) > settings.INTAKE_MAX_BYTES:
        raise DoorError(f"body is larger than {settings.INTAKE_MAX_BYTES} bytes", status=413, code="too_large")


@dataclass
class Outcome:
    accepted: int
    refused: int
    messages: list[str]


def unavailable(exc: Exception) -> DoorError:
    logger.warning("intake: database unavailable: %s", exc)
    return DoorError(f"storage is unavailable, retry later: {type(exc).__name__}", status=503, code="unavailable")


def remote_write_body(body: bytes, source: str) -> Outcome:
    """Store a remote-write request; DoorError when it cannot be taken at all."""
    check_size(body)
    columns = remote_write.decode(body)
    try:
        result = ingest.accept_columns(
            columns, source=f"remote_write:{source}", topic=topics.BASIC, cache=cache_for("rw", source)
        )
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(exc) from None
    except DatabaseError as exc:
        raise unavailable(exc) from None
    return Outcome(result.accepted, result.refused_count, result.messages())


def otlp_body(body: bytes, content_type: str, content_encoding: str, source: str) -> tuple[Outcome, bool]:
    """Store an OTLP metrics export; (outcome, whether the request was JSON)."""
    check_size(body)
    request, as_json = otlp.parse_request(body, content_type, content_encoding)
    translation = otlp.translate(request, int(time.time() * 1000))
    try:
        otlp.accumulate_deltas(translation, source)
        result = ingest.accept_columns(
            otlp.to_columns(translation),
            source=f"otlp:{source}",
            topic=topics.BASIC,
            cache=cache_for("otlp", source),
        )
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        raise unavailable(exc) from None
    messages = translation.reasons + result.messages()
    return Outcome(result.accepted, result.refused_count + translation.rejected, messages), as_json
