from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        # In ready(): the receiver queries models, which exist only once apps are loaded.
        from alerts import signals  # noqa: F401 (connects the ingest receiver)
