"""Series identity: new series are created once, whoever else is creating them at the same time."""

import threading

import orjson
import psycopg
import pytest
from django.db import connections

from monitoring.models import Metric, Series
from monitoring.store.series import labels_key, resolve_series, series_cache
from tests.conftest import children_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_series_get_ids_and_the_same_ids_come_back_later():
    wanted = {("rs_metric", labels_key({"host": f"h{i}"})): {"host": f"h{i}"} for i in range(300)}
    first = resolve_series(wanted)
    series_cache.clear()
    assert resolve_series(wanted) == first and len(set(first.values())) == 300
    stored = Series.objects.get(id=first[("rs_metric", labels_key({"host": "h7"}))])
    assert stored.labels == {"host": "h7"} and stored.metric.name == "rs_metric"


def test_a_series_another_writer_commits_meanwhile_still_gets_its_id():
    labels = {"host": "racer", "path": '/a"b'}
    key = labels_key(labels)
    metric = Metric.objects.create(name="rs_race")
    other = psycopg.connect(children_database_url())
    # The other writer holds an uncommitted insert of the same series: ours must wait, then read it.
    other.execute(
        "INSERT INTO monitoring_series (metric_id, labels, labels_key, created_at) VALUES (%s, %s::jsonb, %s, now())",
        [metric.id, orjson.dumps(labels).decode(), key],
    )
    result: dict = {}

    def write() -> None:
        try:
            result.update(resolve_series({("rs_race", key): labels}))
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=1.0)
    assert writer.is_alive()  # waiting on the other writer's row
    other.commit()
    other.close()
    writer.join(timeout=30)
    assert result == {("rs_race", key): Series.objects.get(metric=metric).id}
    assert Series.objects.filter(metric=metric).count() == 1
