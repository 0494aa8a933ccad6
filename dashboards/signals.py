"""Dashboards that appear with the data they show: "Node" with the first node_exporter series."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitoring.signals import samples_ingested

_node_dashboard_known = False


@receiver(samples_ingested, dispatch_uid="dashboards-node-dashboard")
def create_node_dashboard(sender: Any, metrics: set[str], **kwargs: Any) -> None:
    global _node_dashboard_known
    if _node_dashboard_known or not any(name.startswith("node_") for name in metrics):
        return
    from dashboards.defaults import ensure_node_dashboard  # defaults imports models: not at app load

    ensure_node_dashboard()
    _node_dashboard_known = True


def forget() -> None:
    """Tests: the dashboard may have been rolled back with the test that created it."""
    global _node_dashboard_known
    _node_dashboard_known = False
