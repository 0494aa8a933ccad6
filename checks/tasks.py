"""Celery tasks: thin wrappers around the checks services (the scheduler itself runs beside
the worker, see checks.scheduler; beat's entries are in checks.schedule)."""

from __future__ import annotations

from celery import shared_task

from checks import reports, statuspage


@shared_task(ignore_result=True)
def refresh_status_pages() -> int:
    return statuspage.refresh_all()


@shared_task(ignore_result=True)
def weekly_digest() -> int:
    return reports.send_weekly_digests()
