from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_defaults(sender: AppConfig, **kwargs: Any) -> None:
    # Models cannot be imported while the app registry is still loading apps.py.
    from dashboards.defaults import ensure_default_dashboards

    ensure_default_dashboards()


class DashboardsConfig(AppConfig):
    name = "dashboards"

    def ready(self) -> None:
        # The default dashboards exist from the first `migrate` on (idempotent).
        post_migrate.connect(_create_defaults, sender=self, dispatch_uid="dashboards-defaults")
        from dashboards import signals  # noqa: F401 (connects the receivers)
