from django.apps import AppConfig


class ChecksConfig(AppConfig):
    name = "checks"

    def ready(self) -> None:
        from checks import signals  # noqa: F401 (starts the scheduler beside each Celery worker)
