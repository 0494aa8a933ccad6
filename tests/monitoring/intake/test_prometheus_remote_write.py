"""A real Prometheus scraping a real node_exporter and remote-writing to a real daphne Seismo."""

import time

import httpx

from accounts.models import IngestKey
from tests.conftest import free_port, start_daphne, wait_until
from tests.monitoring.intake.conftest import stored
from tests.monitoring.intake.exporters import (
    NEEDS_NODE_EXPORTER,
    NEEDS_PROMETHEUS,
    start_node_exporter,
    start_prometheus,
)

pytestmark = [NEEDS_PROMETHEUS, NEEDS_NODE_EXPORTER]


def prometheus_samples(port: int, selector: str, at: float) -> dict[tuple, list[tuple[float, float]]]:
    """Raw samples Prometheus holds for ``selector`` over the 10 minutes before ``at``."""
    response = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/query", params={"query": f"{selector}[10m]", "time": at}, timeout=10
    )
    response.raise_for_status()
    out = {}
    for item in response.json()["data"]["result"]:
        labels = tuple(sorted((k, v) for k, v in item["metric"].items() if k != "__name__"))
        out[labels] = [(float(ts), float(value)) for ts, value in item["values"]]
    return out


def test_what_prometheus_stored_is_what_seismo_stored_across_a_seismo_restart(transactional_db, tmp_path):
    key = IngestKey.issue("prometheus")[1]
    seismo_port = free_port()
    seismo = start_daphne(seismo_port)
    exporter, node_port = start_node_exporter()
    prometheus, prom_port = start_prometheus(
        tmp_path, f"127.0.0.1:{node_port}", f"http://127.0.0.1:{seismo_port}/api/v1/write", key
    )
    try:
        wait_until(lambda: len(stored("node_load1")) >= 3, timeout=60)
        seismo.stop()  # Prometheus keeps scraping and retries what it could not send
        time.sleep(4)
        seismo = start_daphne(seismo_port)
        time.sleep(4)
        cutoff = time.time() - 1
        # Everything Prometheus scraped before the cutoff reaches Seismo (its queue retries).
        wait_until(lambda: stored("node_load1") and max(ts for ts, _ in stored("node_load1")) >= cutoff, timeout=60)
        theirs = prometheus_samples(prom_port, 'node_cpu_seconds_total{mode="idle"}', cutoff)
        theirs.update(prometheus_samples(prom_port, "node_load1", cutoff))
        assert theirs
        first = min(ts for ts, _ in stored("node_load1"))
        for labels, points in theirs.items():
            name = "node_load1" if "cpu" not in dict(labels) else "node_cpu_seconds_total"
            ours = [(round(ts, 3), v) for ts, v in stored(name, **dict(labels)) if first <= ts <= cutoff]
            expected = [(round(ts, 3), v) for ts, v in points if first <= ts <= cutoff]
            assert len(expected) >= 8  # the window spans the restart
            assert ours == expected, labels
    finally:
        prometheus.stop()
        exporter.stop()
        seismo.stop()
