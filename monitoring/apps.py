from django.apps import AppConfig
from django.db.backends.signals import connection_created

from monitoring.middleware import install_query_counter


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        # Every connection, from its first query on, counts queries for the request it serves.
        connection_created.connect(install_query_counter, dispatch_uid="seismo-request-queries")
