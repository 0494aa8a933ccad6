from celery import shared_task

from audit import services


@shared_task
def prune() -> int:
    return services.prune()
