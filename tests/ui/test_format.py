"""static/js/format.js — the one number formatter — run in real Chromium (no Node) over units
and magnitudes: what a user reads in cards, tables, tooltips and chart axes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BASE_DIR, NEEDS_CHROMIUM, launch_chromium

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

FORMAT_JS = BASE_DIR / "static" / "js" / "format.js"

CASES: list[tuple[Any, str, str]] = [
    # bytes: binary prefixes, three significant digits
    (0, "bytes", "0 B"),
    (512, "bytes", "512 B"),
    (1023, "bytes", "1,023 B"),
    (1024, "bytes", "1 KiB"),
    (1536, "bytes", "1.5 KiB"),
    (2_120_000, "bytes", "2.02 MiB"),
    (5 * 1024**3, "bytes", "5 GiB"),
    (123.4 * 1024**4, "bytes", "123 TiB"),
    (-2048, "bytes", "-2 KiB"),
    (3 * 1024**2, "bytes/s", "3 MiB/s"),
    # durations: µs, ms, s and longer, whatever the stored unit
    (0.0000042, "s", "4.2 µs"),
    (0.0123, "s", "12.3 ms"),
    (1.5, "s", "1.5 s"),
    (90, "s", "1.5 min"),
    (7200, "s", "2 h"),
    (3 * 86400, "s", "3 d"),
    (0.25, "ms", "250 µs"),
    (12.5, "ms", "12.5 ms"),
    (1500, "ms", "1.5 s"),
    (0, "ms", "0 s"),
    # percentages and ratios
    (42.456, "%", "42.5%"),
    (8, "%", "8%"),
    (99.99, "%", "99.99%"),
    (0.5, "ratio", "50%"),
    (0.1234, "ratio", "12.3%"),
    # plain numbers: integers without decimals, thousands separators, fractions short
    (8, "", "8"),
    (34, "", "34"),
    (1234567, "", "1,234,567"),
    (12.3456, "", "12.3"),
    (0.00123, "", "0.00123"),
    (1234.56, "", "1,234.6"),
    (2.5e12, "", "2.5 T"),
    (5, "rows", "5 rows"),
    # rates
    (1530, "req/s", "1,530 req/s"),
    (2.456, "ops/s", "2.46 ops/s"),
    # nothing to show
    (None, "bytes", "—"),
    ("", "", "—"),
]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(path=str(FORMAT_JS))
        yield page
        browser.close()


def test_values_read_as_people_expect_over_units_and_magnitudes(page):
    got = page.evaluate("(cases) => cases.map(([v, u]) => SeismoFormat.value(v, u))", [[v, u] for v, u, _ in CASES])
    wrong = [(v, u, want, have) for (v, u, want), have in zip(CASES, got, strict=True) if want != have]
    assert wrong == []


def test_the_unit_comes_from_the_catalogue_or_else_from_the_prometheus_name(page):
    got = page.evaluate(
        """() => [
          SeismoFormat.unitOf("process_resident_memory_bytes", ""),
          SeismoFormat.unitOf("http_request_duration_seconds", ""),
          SeismoFormat.unitOf("node_network_receive_bytes_total", ""),
          SeismoFormat.unitOf("pg_cache_hit_ratio", "%"),
          SeismoFormat.unitOf("up_ratio", ""),
          SeismoFormat.unitOf("system_load1", ""),
        ]"""
    )
    assert got == ["bytes", "s", "bytes", "%", "ratio", ""]


def test_axis_ticks_and_server_rendered_numbers_use_the_same_rules(page):
    ticks = page.evaluate("SeismoFormat.axis('bytes')(null, [0, 1048576, 2097152, null])")
    assert ticks == ["0 B", "1 MiB", "2 MiB", ""]
    close = page.evaluate("SeismoFormat.axis('bytes')(null, [5000000, 5001000, 5002000])")
    assert close == ["4.768 MiB", "4.769 MiB", "4.77 MiB"]
    assert page.evaluate("SeismoFormat.value(5001000, 'bytes')") == "4.77 MiB"
    page.set_content(
        '<span id="a" data-fmt data-value="2120000" data-unit="bytes">2120000</span>'
        '<span id="b" data-fmt data-value="8.0" data-unit="">8.0</span>'
    )
    page.add_script_tag(path=str(FORMAT_JS))
    assert page.inner_text("#a") == "2.02 MiB"
    assert page.inner_text("#b") == "8"
    assert page.get_attribute("#a", "title") == "2120000 bytes"
