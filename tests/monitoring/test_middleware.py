"""The request middleware counts each request's database queries and builds the same field names
from its per-request cache as the codec spells them."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lib.sketch import bucket_of
from monitoring import reqstats
from monitoring.middleware import QueryCounter, count_queries, queries_counted

pytestmark = pytest.mark.django_db


def test_it_counts_every_query_a_request_runs_and_none_outside_requests(client, viewer, stats):
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/metrics/").status_code == 200
    assert len(captured) > 0
    with connection.cursor() as cursor:  # outside any request: not counted
        cursor.execute("SELECT 1")
    counted = stats.take()
    assert counted["q|seismo"] == len(captured)
    assert counted["qt|seismo"] > 0


def test_a_connection_carries_the_query_counter_once_across_reconnects(db):
    connection.ensure_connection()
    connection.close()
    connection.ensure_connection()
    assert connection.execute_wrappers.count(count_queries) == 1


@pytest.mark.django_db(transaction=True)
def test_a_wrapper_entered_before_the_connection_opened_leaves_nothing_behind():
    """The intake doors count a batch's queries on a connection the batch opens, on a thread of
    their own: every reconnect used to leave one wrapper behind, until they answered 500
    (RecursionError) after a thousand batches."""
    seen: list[tuple[int, list[object]]] = []

    def batches() -> None:  # a new thread: a connection object of its own, never opened
        for _ in range(3):
            counter = QueryCounter()
            with connection.execute_wrapper(counter), connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            seen.append((counter.count, list(connection.execute_wrappers)))
            connection.close()

    thread = threading.Thread(target=batches)
    thread.start()
    thread.join(30)
    assert seen == [(1, [count_queries])] * 3


def test_queries_counted_counts_the_block_only(db):
    with queries_counted() as queries, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 3")
    assert queries.count == 2


def test_cached_field_names_match_the_codec_for_each_status_class():
    def names(status: int) -> list[str]:
        fields = reqstats.request_fields(
            route="/x/", method="GET", status=status, source="app", elapsed_ms=2.0, size=1, queries=0, query_ms=0
        )
        return [name for name, _ in fields]

    def expected(status_class: str, error: bool) -> list[str]:
        return [
            reqstats.field(reqstats.REQUESTS, "/x/", "GET", status_class, "app"),
            reqstats.field(reqstats.LATENCY, "/x/", "app", bucket_of(2.0)),
            reqstats.field(reqstats.BYTES, "/x/", "app"),
            reqstats.field(reqstats.QUERIES, "app"),
            reqstats.field(reqstats.QUERY_MS, "app"),
        ] + ([reqstats.field(reqstats.ERRORS, "/x/", "app")] if error else [])

    for _ in range(2):  # the first call fills the cache, the second reads it
        assert names(503) == expected("5xx", error=True)
        assert names(204) == expected("2xx", error=False)
