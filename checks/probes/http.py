"""``http`` checks: one request (and its redirects, each hop vetted), judged on status, body
keyword, a JSON-path assertion and response time."""

from __future__ import annotations

import functools
import re
import ssl
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import orjson
from jsonpath_ng import parse as jsonpath_parse
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError

from checks.choices import HTTP_METHODS, MAX_BODY_BYTES, MAX_REDIRECTS
from checks.probes.base import JSON_PATH, STORED_TEXT, ProbeConfigError, Result, Spec, expect_keys, matches
from lib.outbound import refusal_reason
from lib.outbound_clients import aiohttp_connector

EXPECT_KEYS = {"status", "keyword", "keyword_absent", "json"}
REQUEST_KEYS = {"method", "headers", "body", "follow_redirects", "verify_tls"}
DEFAULT_STATUS = ["2xx"]
HEADER_TEXT = re.compile("^[^\\x00\\r\\n]*$")  # one line, storable


@functools.lru_cache(maxsize=1024)
def json_path(path: str) -> Any:
    """The parsed JSONPath (parsing is the slow part; checks reuse theirs)."""
    return jsonpath_parse(path)


def _status_matcher(entry: Any) -> bool:
    if isinstance(entry, bool):
        return False
    if isinstance(entry, int | float):  # 200.0 is an integer to JSON Schema too
        return float(entry).is_integer() and 100 <= entry <= 599
    return isinstance(entry, str) and len(entry) == 3 and entry[0] in "12345" and entry[1:].lower() == "xx"


def validate(target: str, expect: dict[str, Any], request: dict[str, Any]) -> None:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeConfigError("target", "an http:// or https:// URL with a host is required")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ProbeConfigError("target", "the URL's port is not a number between 1 and 65535") from None
    expect_keys(expect, EXPECT_KEYS)
    statuses = expect.get("status", DEFAULT_STATUS)
    if not isinstance(statuses, list) or not statuses or not all(_status_matcher(s) for s in statuses):
        raise ProbeConfigError("expect", 'status: a list of codes or classes, e.g. [200, 204] or ["2xx"]')
    for key in ("keyword", "keyword_absent"):
        if key in expect and (not matches(STORED_TEXT, expect[key]) or not expect[key]):
            raise ProbeConfigError("expect", f"{key}: a non-empty string")
    if "json" in expect:
        rule = expect["json"]
        if not isinstance(rule, dict) or not isinstance(rule.get("path"), str) or set(rule) - {"path", "equals"}:
            raise ProbeConfigError("expect", 'json: {"path": "$.status", "equals": "green"} ("equals" optional)')
        if not matches(JSON_PATH, rule["path"]):
            raise ProbeConfigError("expect", "json.path: $ then .name, ..name, .*, [n] or [*] steps")
        equals = rule.get("equals")
        if not (equals is None or isinstance(equals, bool | int | float) or matches(STORED_TEXT, equals)):
            raise ProbeConfigError("expect", "json.equals: a string, number, boolean or null")
        try:
            json_path(rule["path"])
        except (JsonPathParserError, JsonPathLexerError, Exception) as exc:
            raise ProbeConfigError("expect", f"json.path {rule['path']!r} does not parse: {exc}") from None
    unknown = sorted(set(request) - REQUEST_KEYS)
    if unknown:
        raise ProbeConfigError("request", f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(REQUEST_KEYS))})")
    if request.get("method", "GET") not in HTTP_METHODS:
        raise ProbeConfigError("request", f"method: one of {', '.join(HTTP_METHODS)}")
    headers = request.get("headers", {})
    if not isinstance(headers, dict) or not all(
        k and matches(HEADER_TEXT, k) and matches(HEADER_TEXT, v) for k, v in headers.items()
    ):
        raise ProbeConfigError("request", "headers: an object of header name → string value (one line each)")
    if not matches(STORED_TEXT, request.get("body", "")):
        raise ProbeConfigError("request", "body: a string")
    for key in ("follow_redirects", "verify_tls"):
        if not isinstance(request.get(key, True), bool):
            raise ProbeConfigError("request", f"{key}: true or false")


def _status_ok(code: int, accepted: list[Any]) -> bool:
    for entry in accepted:
        if isinstance(entry, int | float) and code == entry:  # 200.0 as stored from JSON
            return True
        if isinstance(entry, str) and str(code)[0] == entry[0]:
            return True
    return False


def _json_assertion(body: bytes, rule: dict[str, Any]) -> str:
    """'' when the assertion holds, else why not."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the body is not JSON"
    matches = [m.value for m in json_path(rule["path"]).find(data)]
    if not matches:
        return f"JSON path {rule['path']} matched nothing"
    if "equals" in rule and not any(value == rule["equals"] for value in matches):
        shown = orjson.dumps(matches[0]).decode()[:80]
        return f"JSON path {rule['path']} is {shown}, expected {orjson.dumps(rule['equals']).decode()[:80]}"
    return ""


_VERIFYING = ssl.create_default_context()


async def run(spec: Spec, request: dict[str, Any]) -> Result:
    expect = spec.expect
    ssl_context: ssl.SSLContext | bool = _VERIFYING if request.get("verify_tls", True) else False
    # Every hop is resolved once and vetted by the gate; the connection goes to that address.
    connector = aiohttp_connector(use_dns_cache=False, force_close=True, limit=0)
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    method = request.get("method", "GET")
    headers = {"User-Agent": "Seismo-Check/1", **request.get("headers", {})}
    data = request.get("body") or None
    url = spec.target
    started = time.perf_counter()
    hops = MAX_REDIRECTS if request.get("follow_redirects", True) else 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True) as session:
        for hop in range(hops + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return Result(False, f"redirected to an unusable URL {url[:200]!r}", time.perf_counter() - started)
            try:
                async with session.request(
                    method, url, headers=headers, data=data, allow_redirects=False, ssl=ssl_context
                ) as response:
                    location = response.headers.get("Location")
                    if 300 <= response.status < 400 and location and hop < hops:
                        url = urljoin(url, location)
                        if response.status == 303:
                            method, data = "GET", None
                        continue
                    body = await response.content.read(MAX_BODY_BYTES)
                    code = response.status
                    break
            except TimeoutError:
                return Result(False, f"timed out after {spec.timeout:g} s", time.perf_counter() - started)
            except aiohttp.ClientConnectorCertificateError as exc:
                return Result(False, f"TLS error: {exc.certificate_error}", time.perf_counter() - started)
            except aiohttp.ClientSSLError as exc:
                return Result(False, f"TLS error: {exc}", time.perf_counter() - started)
            except aiohttp.ClientConnectorError as exc:
                refused = refusal_reason(exc)
                if refused:
                    where = "redirect target refused" if hop else "target refused"
                    return Result(False, f"{where}: {refused}", time.perf_counter() - started)
                reason = exc.strerror or type(exc.os_error).__name__
                return Result(False, f"connection failed: {reason}", time.perf_counter() - started)
            except aiohttp.ClientError as exc:
                return Result(False, f"HTTP error: {type(exc).__name__}: {exc}"[:300], time.perf_counter() - started)
        else:
            return Result(False, f"more than {hops} redirects", time.perf_counter() - started)
    duration = time.perf_counter() - started
    accepted = expect.get("status", DEFAULT_STATUS)
    if not _status_ok(code, accepted):
        return Result(False, f"status {code} (expected {', '.join(map(str, accepted))})", duration, code)
    text = body.decode(errors="replace") if ("keyword" in expect or "keyword_absent" in expect) else ""
    if "keyword" in expect and expect["keyword"] not in text:
        return Result(False, f"keyword {expect['keyword']!r} missing", duration, code)
    if "keyword_absent" in expect and expect["keyword_absent"] in text:
        return Result(False, f"keyword {expect['keyword_absent']!r} present", duration, code)
    if "json" in expect:
        problem = _json_assertion(body, expect["json"])
        if problem:
            return Result(False, problem, duration, code)
    return Result(True, f"status {code}", duration, code)
