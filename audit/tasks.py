from celery import shared_task
from celery.schedules import crontab

from audit import services

BEAT_SCHEDULE = {"audit-prune": {"task": "audit.tasks.prune", "schedule": crontab(minute=17, hour=3)}}


@shared_task
def prune() -> int:
    return services.prune()
