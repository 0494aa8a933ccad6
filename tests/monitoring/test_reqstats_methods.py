"""A request with a method outside the standard set is counted as OTHER and leaves the format intact."""

from __future__ import annotations

import pytest

from monitoring import reqstats


@pytest.mark.parametrize("method", ["GE|T", "PROPFIND", "get", ""])
def test_a_non_standard_method_is_counted_as_other_and_every_field_still_parses(method):
    fields = reqstats.request_fields(
        route="/api/", method=method, status=200, source="seismo", elapsed_ms=3.0, size=10, queries=1, query_ms=0.5
    )
    kinds = {}
    for name, _ in fields:
        kind, parts = reqstats.parse(name)
        kinds[kind] = parts
    assert kinds[reqstats.REQUESTS] == ["/api/", "OTHER", "2xx", "seismo"]
    assert kinds[reqstats.BYTES] == ["/api/", "seismo"]


def test_standard_methods_keep_their_names():
    (first, *_) = reqstats.request_fields(
        route="/", method="PATCH", status=404, source="s", elapsed_ms=1, size=0, queries=0, query_ms=0
    )
    assert reqstats.parse(first[0]) == (reqstats.REQUESTS, ["/", "PATCH", "4xx", "s"])
